// Model files are read only if they are regular files: opening a FIFO blocks until something
// writes to it (a `serve` that SIGTERM could not stop), a directory or a device is no model file.
// stat() does not open, so it never blocks.
#pragma once

#include <string>

#include "core/status.h"

namespace wedlm {

// Ok for a regular file (or a link to one); kNotFound when nothing is there; kIo naming what
// else it is.
Status check_regular_file(const std::string& path);

}  // namespace wedlm
