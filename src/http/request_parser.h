// An incremental HTTP/1.1 request parser (RFC 9112) over a connection's input buffer: the head
// (request line and header fields), then a body framed by Content-Length or chunked encoding.
// Bytes are consumed from the buffer as they are parsed, so what follows a complete request (a
// pipelined one) stays there for the next. Every limit is checked before the bytes it bounds are
// kept; a refusal carries the status a server answers with and a message naming what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "http/message.h"

namespace wedlm::http {

struct Limits {
  size_t max_head_bytes = 32 << 10;  // request line and header fields, CRLFs included
  size_t max_headers = 100;
  size_t max_body_bytes = 8 << 20;  // after de-chunking
};

struct ParseError {
  int status = 400;  // 400, 413, 431, 501, 505
  std::string message;
};

class RequestParser {
 public:
  enum class State { kHead, kBody, kDone, kFailed };

  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  // Parses what `in` holds, erasing the bytes it consumes; the state after them. kHead and kBody
  // need more bytes; kDone: request() is whole (the rest of `in` is not touched).
  State feed(std::string& in);
  State state() const { return state_; }
  bool head_done() const { return state_ == State::kBody || state_ == State::kDone; }
  // Whether any byte of a request has been consumed (a partial request, once the peer closes).
  bool started() const { return started_; }
  // Body bytes the head announced (Content-Length), or received so far (chunked).
  size_t body_bytes() const { return declared_ > req_.body.size() ? declared_ : req_.body.size(); }
  Request& request() { return req_; }
  const ParseError& error() const { return error_; }
  // Ready for the next request on the same connection.
  void reset();

 private:
  State fail(int status, std::string message);
  State parse_head(std::string_view head);
  State parse_request_line(std::string_view line);
  State parse_header_line(std::string_view line);
  State frame_body();  // from the fields: Content-Length, chunked, or none
  State feed_body(std::string& in);
  State feed_chunks(std::string& in);

  enum class Chunk { kSize, kData, kDataEnd, kTrailer };
  Limits limits_;
  State state_ = State::kHead;
  Request req_;
  ParseError error_;
  bool started_ = false, chunked_ = false;
  size_t declared_ = 0;  // Content-Length
  Chunk chunk_ = Chunk::kSize;
  size_t chunk_left_ = 0;     // bytes of the current chunk still to come
  size_t trailer_bytes_ = 0;  // trailer fields, counted against the head's limit
  size_t scanned_ = 0;        // where the search for the head's end resumes
};

// Percent-decodes a request path; false on a bad escape or a decoded NUL.
bool decode_path(std::string_view raw, std::string& out);

}  // namespace wedlm::http
