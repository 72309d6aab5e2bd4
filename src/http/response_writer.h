// Writing a response to a connection's socket (non-blocking): the status line and fields, then
// the body with Content-Length, chunked (a stream on HTTP/1.1), or until close (a stream on
// HTTP/1.0). A write that makes no progress within the timeout fails, as does one to a client
// that has gone; the connection is then closed, never reused.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace wedlm::http {

// Sends all of `bytes`, waiting at most `timeout_ms` for each bit of progress; false when the peer
// is gone or stalled. Never raises SIGPIPE.
bool send_all(int fd, std::string_view bytes, int timeout_ms);

struct WriteOptions {
  int minor = 1;           // the request's HTTP/1.minor
  bool keep_alive = true;  // the connection stays open after this response
  bool head_only = false;  // a HEAD request: fields only
  // Polled before each write of a stream: true once the client has left (then the stream stops).
  std::function<bool()> client_left;
  int timeout_ms = 30000;
};

// The status line and header fields of `res` as sent, framing and Connection fields included.
std::string response_head(const Response& res, const WriteOptions& o);
// Sends `res` whole (running its stream, if any); false when the connection must be closed (a
// failed write, or a stream on HTTP/1.0, whose end is the connection's end).
bool write_response(int fd, const Response& res, const WriteOptions& o);

}  // namespace wedlm::http
