#include "http/request_parser.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace wedlm::http {
namespace {

// tchar of RFC 9110: the characters of a method or a field name.
bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// A bounded, printable quote of a bad value for an error message.
std::string quoted(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return "'" + out + (s.size() > 60 ? "...'" : "'");
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The end of the head: the index just past its empty line (CRLF CRLF, or bare LFs), or npos.
// `from`: where the search may start (a line end before it was not the head's end).
size_t head_end(const std::string& in, size_t& from) {
  for (size_t i = in.find('\n', from); i != std::string::npos; i = in.find('\n', i + 1)) {
    from = i;
    if (i + 1 < in.size() && in[i + 1] == '\n') return i + 2;
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') return i + 3;
  }
  return std::string::npos;
}

// One line out of `in` (without its CRLF or LF), or false when no line end has arrived.
bool take_line(std::string& in, std::string& line) {
  const size_t nl = in.find('\n');
  if (nl == std::string::npos) return false;
  line.assign(in, 0, nl > 0 && in[nl - 1] == '\r' ? nl - 1 : nl);
  in.erase(0, nl + 1);
  return true;
}

}  // namespace

bool decode_path(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out += raw[i];
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    const int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    out += char(hi * 16 + lo);
    i += 2;
  }
  return true;
}

void RequestParser::reset() {
  state_ = State::kHead;
  req_ = Request{};
  error_ = ParseError{};
  started_ = chunked_ = false;
  declared_ = chunk_left_ = trailer_bytes_ = scanned_ = 0;
  chunk_ = Chunk::kSize;
}

RequestParser::State RequestParser::fail(int status, std::string message) {
  error_ = {status, std::move(message)};
  return state_ = State::kFailed;
}

RequestParser::State RequestParser::feed(std::string& in) {
  if (state_ == State::kHead) {
    // Empty lines before a request line are ignored (RFC 9112 2.2): a client's stray CRLF.
    while (!started_ && !in.empty() && (in[0] == '\r' || in[0] == '\n')) in.erase(0, 1);
    if (in.empty()) return state_;
    started_ = true;
    const size_t end = head_end(in, scanned_);
    if (end == std::string::npos || end > limits_.max_head_bytes) {
      if (in.size() <= limits_.max_head_bytes) return state_;
      return fail(431,
                  fmt::format("the request head is larger than {} bytes", limits_.max_head_bytes));
    }
    const std::string head = in.substr(0, end);
    in.erase(0, end);
    scanned_ = 0;
    if (parse_head(head) == State::kFailed) return state_;
  }
  if (state_ == State::kBody) return chunked_ ? feed_chunks(in) : feed_body(in);
  return state_;
}

RequestParser::State RequestParser::parse_head(std::string_view head) {
  size_t n_lines = 0;
  while (!head.empty()) {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the head's end
    if (n_lines++ == 0) {
      if (parse_request_line(line) == State::kFailed) return state_;
    } else if (n_lines > limits_.max_headers + 1) {
      return fail(431,
                  fmt::format("the request has more than {} header fields", limits_.max_headers));
    } else if (parse_header_line(line) == State::kFailed) {
      return state_;
    }
  }
  return frame_body();
}

RequestParser::State RequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line " + quoted(line) + " (want METHOD TARGET HTTP/1.1)");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method " + quoted(method));
  if (version == "HTTP/1.1" || version == "HTTP/1.0")
    req_.minor = version.back() - '0';
  else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(version[5]))
    return fail(505, "HTTP version " + quoted(version) + " is not supported (HTTP/1.1 is)");
  else
    return fail(400, "malformed HTTP version " + quoted(version));
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    return fail(400, "malformed request target " + quoted(target));
  req_.method.assign(method);
  req_.target.assign(target);
  std::string_view origin = target;
  if (origin.substr(0, 7) == "http://" || origin.substr(0, 8) == "https://") {  // absolute-form
    const size_t slash = origin.find('/', origin.find("//") + 2);
    origin = slash == std::string_view::npos ? "/" : origin.substr(slash);
  }
  if (origin == "*" && method == "OPTIONS") origin = "/";
  if (origin.front() != '/') return fail(400, "malformed request target " + quoted(target));
  const size_t q = origin.find('?');
  if (q != std::string_view::npos) req_.query.assign(origin.substr(q + 1));
  if (!decode_path(origin.substr(0, q), req_.path))
    return fail(400, "bad percent-encoding in the request path " + quoted(target));
  return state_;
}

RequestParser::State RequestParser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t')  // obs-fold (RFC 9112 5.2)
    return fail(400, "a header field continued on the next line (obsolete line folding)");
  const size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  if (colon == std::string_view::npos || !is_token(name))
    return fail(400, "malformed header field " + quoted(line));
  const std::string_view value = trimmed(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), [](char c) {
        return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
      }))
    return fail(400, "a control character in header field " + quoted(name));
  req_.headers.push_back({std::string(name), std::string(value)});
  return state_;
}

RequestParser::State RequestParser::frame_body() {
  const std::string* length = nullptr;
  bool has_te = false;
  for (const Header& h : req_.headers) {
    if (iequals(h.name, "Transfer-Encoding")) {
      if (has_te || !iequals(h.value, "chunked"))
        return fail(501, "Transfer-Encoding " + quoted(h.value) + " is not supported (chunked is)");
      has_te = true;
    } else if (iequals(h.name, "Content-Length")) {
      if (length && *length != h.value) return fail(400, "conflicting Content-Length fields");
      length = &h.value;
    }
  }
  if (has_te && length)  // a message framed twice is how requests get smuggled: refused
    return fail(400, "both Transfer-Encoding and Content-Length are given");
  if (has_te && req_.minor == 0)
    return fail(400, "chunked Transfer-Encoding in an HTTP/1.0 request");
  chunked_ = has_te;
  if (length) {
    if (length->empty() || length->size() > 18 ||
        !std::all_of(length->begin(), length->end(), [](char c) { return c >= '0' && c <= '9'; }))
      return length->size() > 18 && std::all_of(length->begin(), length->end(),
                                                [](char c) { return c >= '0' && c <= '9'; })
                 ? fail(413, fmt::format("the request body is larger than {} bytes",
                                         limits_.max_body_bytes))
                 : fail(400, "malformed Content-Length " + quoted(*length));
    declared_ = std::stoull(*length);
    if (declared_ > limits_.max_body_bytes)
      return fail(413, fmt::format("the request body ({} bytes) is larger than {} bytes", declared_,
                                   limits_.max_body_bytes));
  }
  return state_ = (chunked_ || declared_ > 0) ? State::kBody : State::kDone;
}

RequestParser::State RequestParser::feed_body(std::string& in) {
  const size_t take = std::min(in.size(), declared_ - req_.body.size());
  req_.body.append(in, 0, take);
  in.erase(0, take);
  if (req_.body.size() == declared_) state_ = State::kDone;
  return state_;
}

RequestParser::State RequestParser::feed_chunks(std::string& in) {
  std::string line;
  while (state_ == State::kBody) {
    if (chunk_ == Chunk::kData) {
      const size_t take = std::min(in.size(), chunk_left_);
      req_.body.append(in, 0, take);
      in.erase(0, take);
      chunk_left_ -= take;
      if (chunk_left_ > 0) return state_;
      chunk_ = Chunk::kDataEnd;
      continue;
    }
    const size_t line_limit = chunk_ == Chunk::kTrailer ? limits_.max_head_bytes : 1024;
    if (!take_line(in, line)) {
      if (in.size() > line_limit) return fail(400, "a chunk size or trailer line is too long");
      return state_;
    }
    if (chunk_ == Chunk::kDataEnd) {
      if (!line.empty()) return fail(400, "chunk data longer than its size");
      chunk_ = Chunk::kSize;
    } else if (chunk_ == Chunk::kTrailer) {
      trailer_bytes_ += line.size() + 2;
      if (trailer_bytes_ > limits_.max_head_bytes)
        return fail(431, "the trailer fields are too large");
      if (line.empty()) state_ = State::kDone;  // trailer fields are read and dropped
    } else {
      const std::string_view size = trimmed(std::string_view(line).substr(0, line.find(';')));
      if (size.empty() || size.size() > 15 ||
          !std::all_of(size.begin(), size.end(), [](char c) { return hex_value(c) >= 0; }))
        return fail(400, "malformed chunk size " + quoted(line));
      chunk_left_ = std::stoull(std::string(size), nullptr, 16);
      if (req_.body.size() + chunk_left_ > limits_.max_body_bytes)
        return fail(
            413, fmt::format("the request body is larger than {} bytes", limits_.max_body_bytes));
      chunk_ = chunk_left_ == 0 ? Chunk::kTrailer : Chunk::kData;
    }
  }
  return state_;
}

}  // namespace wedlm::http
