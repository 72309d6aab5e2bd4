// HTTP/1.1 messages as the server's handlers see them: a request whose head and body have been
// read whole (request_parser.h), and a response with a body given at once or written while it is
// produced (SSE). The connection (http_server.h) frames them: Content-Length or chunked,
// keep-alive.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace wedlm::http {

struct Header {
  std::string name, value;
};

// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // "GET", "POST", ... (case-sensitive, as sent)
  std::string target;  // as sent: "/v1/models/x?a=b"
  std::string path;    // percent-decoded, without the query: "/v1/models/x"
  std::string query;   // after '?', not decoded
  int minor = 1;       // HTTP/1.minor
  std::vector<Header> headers;
  std::string body;  // de-chunked

  // The first header named `name` (any case), or nullptr.
  const std::string* find(std::string_view name) const;
  std::string header(std::string_view name) const;  // "" when absent
  // HTTP/1.1 keeps the connection unless "Connection: close"; 1.0 only with "keep-alive".
  bool keep_alive() const;
  bool expects_continue() const;  // "Expect: 100-continue"
};

// A body written as it is produced; write() is false once the client is gone or stopped reading
// (then nothing more is sent and the connection is closed).
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual bool write(std::string_view bytes) = 0;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;
  // Set: the body is this function's writes (chunked on HTTP/1.1), run after the handler returns
  // on the same worker thread; `body` is ignored.
  std::function<void(BodyWriter&)> stream;

  void set_header(std::string name, std::string value);  // replaces one of the same name
  const std::string* find(std::string_view name) const;
  void set_content(std::string bytes, std::string content_type);
  void set_stream(std::string content_type, std::function<void(BodyWriter&)> produce);
};

// "OK", "Not Found", ...; "Unknown" for a status without one here.
const char* reason_phrase(int status);

}  // namespace wedlm::http
