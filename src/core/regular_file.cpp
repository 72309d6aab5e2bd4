#include "core/regular_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

namespace wedlm {

Status check_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                  fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (S_ISREG(st.st_mode)) return Status::ok();
  const char* what = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "a device";
  return Status(ErrorKind::kIo, fmt::format("{}: not a regular file ({})", path, what));
}

}  // namespace wedlm
