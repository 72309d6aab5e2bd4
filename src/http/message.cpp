#include "http/message.h"

#include <cctype>

namespace wedlm::http {
namespace {

char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

const std::string* find_in(const std::vector<Header>& hs, std::string_view name) {
  for (const Header& h : hs)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

// Whether the comma-separated header value holds `token` (any case).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

const std::string* Request::find(std::string_view name) const { return find_in(headers, name); }

std::string Request::header(std::string_view name) const {
  const std::string* v = find(name);
  return v ? *v : std::string();
}

bool Request::keep_alive() const {
  const std::string* c = find("Connection");
  if (c && has_token(*c, "close")) return false;
  return minor >= 1 || (c && has_token(*c, "keep-alive"));
}

bool Request::expects_continue() const {
  const std::string* e = find("Expect");
  return minor >= 1 && e && iequals(*e, "100-continue");
}

void Response::set_header(std::string name, std::string value) {
  for (Header& h : headers)
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  headers.push_back({std::move(name), std::move(value)});
}

const std::string* Response::find(std::string_view name) const { return find_in(headers, name); }

void Response::set_content(std::string bytes, std::string content_type) {
  body = std::move(bytes);
  stream = nullptr;
  set_header("Content-Type", std::move(content_type));
}

void Response::set_stream(std::string content_type, std::function<void(BodyWriter&)> produce) {
  body.clear();
  stream = std::move(produce);
  set_header("Content-Type", std::move(content_type));
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace wedlm::http
