#include "http/response_writer.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>

#include <fmt/core.h>

namespace wedlm::http {
namespace {

std::string http_date() {  // IMF-fixdate: "Sun, 06 Dec 2026 00:13:41 GMT"
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// A stream's writes as chunks ("<hex size>\r\n<bytes>\r\n"), or raw on HTTP/1.0.
class SocketBodyWriter final : public BodyWriter {
 public:
  SocketBodyWriter(int fd, bool chunked, const std::function<bool()>& client_left, int timeout_ms)
      : fd_(fd), chunked_(chunked), client_left_(client_left), timeout_ms_(timeout_ms) {}
  bool write(std::string_view bytes) override {
    if (failed_ || (client_left_ && client_left_())) return failed_ = true, false;
    if (bytes.empty()) return true;  // an empty chunk would end the body
    if (chunked_) {
      std::string chunk = fmt::format("{:x}\r\n", bytes.size());
      chunk.append(bytes).append("\r\n");
      failed_ = !send_all(fd_, chunk, timeout_ms_);
    } else {
      failed_ = !send_all(fd_, bytes, timeout_ms_);
    }
    return !failed_;
  }
  bool finish() {
    return chunked_ && !failed_ ? send_all(fd_, "0\r\n\r\n", timeout_ms_) : !failed_;
  }

 private:
  int fd_;
  bool chunked_, failed_ = false;
  const std::function<bool()>& client_left_;
  int timeout_ms_;
};

}  // namespace

bool send_all(int fd, std::string_view bytes, int timeout_ms) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int r;
      do r = ::poll(&p, 1, timeout_ms);
      while (r < 0 && errno == EINTR);
      if (r <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
      continue;
    }
    return false;
  }
  return true;
}

std::string response_head(const Response& res, const WriteOptions& o) {
  std::string head =
      fmt::format("HTTP/1.{} {} {}\r\n", o.minor, res.status, reason_phrase(res.status));
  for (const Header& h : res.headers) {
    if (iequals(h.name, "Content-Length") || iequals(h.name, "Transfer-Encoding") ||
        iequals(h.name, "Connection"))
      continue;  // framing is the writer's
    head += h.name + ": " + h.value + "\r\n";
  }
  head += "Date: " + http_date() + "\r\n";
  const bool streamed = bool(res.stream);
  const bool bodiless = res.status == 204 || res.status == 304 || res.status < 200;
  if (streamed && o.minor >= 1)
    head += "Transfer-Encoding: chunked\r\n";
  else if (!streamed && !bodiless)
    head += fmt::format("Content-Length: {}\r\n", res.body.size());
  const bool keep = o.keep_alive && !(streamed && o.minor == 0);
  if (!keep)
    head += "Connection: close\r\n";
  else if (o.minor == 0)
    head += "Connection: keep-alive\r\n";
  return head + "\r\n";
}

bool write_response(int fd, const Response& res, const WriteOptions& o) {
  const std::string head = response_head(res, o);
  if (o.head_only) return send_all(fd, head, o.timeout_ms) && o.keep_alive;
  if (!res.stream) {
    const bool bodiless = res.status == 204 || res.status == 304 || res.status < 200;
    if (bodiless || res.body.size() > (64 << 10))
      return send_all(fd, head, o.timeout_ms) &&
             (bodiless || send_all(fd, res.body, o.timeout_ms)) && o.keep_alive;
    return send_all(fd, head + res.body, o.timeout_ms) && o.keep_alive;  // one segment
  }
  if (!send_all(fd, head, o.timeout_ms)) return false;
  SocketBodyWriter body(fd, o.minor >= 1, o.client_left, o.timeout_ms);
  res.stream(body);
  return body.finish() && o.keep_alive && o.minor >= 1;
}

}  // namespace wedlm::http
