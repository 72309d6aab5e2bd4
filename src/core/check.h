// WEDLM_CHECK: invariants of the program itself. A failure is a bug, never bad input: it prints
// file:line and the message, then aborts. Bad input is reported with Status (status.h).
#pragma once

#include <string_view>

namespace wedlm::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* expr, std::string_view msg);
}  // namespace wedlm::detail

#define WEDLM_CHECK(cond, msg)                                                    \
  do {                                                                            \
    if (!(cond)) ::wedlm::detail::check_failed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
