#include "http/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>

namespace wedlm::http {
namespace {

constexpr int kListenBacklog = 4096;  // the kernel caps it at net.core.somaxconn

std::string bind_failure(const std::string& host, int port, int err) {
  const std::string where = fmt::format("cannot listen on {}:{}", host, port);
  if (err == EADDRINUSE) return where + ": the port is in use (is another server running?)";
  if (err == EADDRNOTAVAIL) return where + ": not an address of this machine";
  if (err == EACCES) return where + ": permission denied (ports below 1024 need privileges)";
  return where + ": " + std::strerror(err);
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

Result<Listener> listen_on(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int gai =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (gai != 0)
    return Status(ErrorKind::kIo,
                  fmt::format("cannot listen on {}:{}: {}", host, port, gai_strerror(gai)));
  int err = EADDRNOTAVAIL;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, kListenBacklog) == 0) {
      freeaddrinfo(found);
      return Listener{fd, bound_port(fd)};
    }
    err = errno;
    ::close(fd);
  }
  freeaddrinfo(found);
  return Status(ErrorKind::kIo, bind_failure(host, port, err));
}

size_t connection_budget(size_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  const size_t files = lim.rlim_cur == RLIM_INFINITY ? size_t(1) << 20 : size_t(lim.rlim_cur);
  const size_t room = files > 512 ? files - 256 : std::max<size_t>(files / 2, 16);
  return std::min(wanted == 0 ? size_t(8192) : wanted, room);
}

}  // namespace wedlm::http
