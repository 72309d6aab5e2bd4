// The listening socket: bound with SO_REUSEADDR only (a second server on a taken port fails to
// start, named in the error, instead of silently sharing it through SO_REUSEPORT), a backlog of
// 4096 (bursts of new connections wait in the kernel's queue, not in SYN retries), non-blocking.
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace wedlm::http {

struct Listener {
  int fd = -1;
  int port = -1;
};

Result<Listener> listen_on(const std::string& host, int port);

// Raises the process's open-file limit to its hard limit; connections the server may hold
// open at once within it (`wanted`, or 8192 for 0), keeping room for model files and the like.
size_t connection_budget(size_t wanted);

}  // namespace wedlm::http
