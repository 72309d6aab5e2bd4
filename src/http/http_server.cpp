#include "http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <fmt/core.h>

#include "http/listener.h"
#include "http/response_writer.h"
#include "http/worker_pool.h"

namespace wedlm::http {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr auto kLingerTime = seconds(2);  // reading what a refused client still sends, then close
constexpr auto kSweepEvery = milliseconds(200);
constexpr size_t kReadChunk = 64 << 10;
// A client's end of stream this soon after its request is a half-close (it still wants the
// reply: `printf ... | nc -N`); later, while its reply is produced, it means the client left.
constexpr int64_t kHalfCloseMs = 100;

// One client connection. The event thread owns it, except while a worker answers its request.
struct Conn {
  enum class Phase {
    kIdle,     // waiting for a request's first byte
    kReading,  // a request has begun: its deadline runs
    kBusy,     // whole, with a worker (not watched by epoll)
    kClosing,  // answered with an error and shut down for writing: draining, then closed
  };
  Conn(int f, const Limits& l) : fd(f), parser(l) {}
  int fd;
  std::string in;
  RequestParser parser;
  Phase phase = Phase::kIdle;
  Clock::time_point since = Clock::now();                          // start of this phase
  enum class Watch { kNone, kRead, kEnd } watched = Watch::kNone;  // with epoll: input, or the end
  std::atomic<int64_t> end_ms{-1};  // kBusy: when the client's end closed, ms after dispatch
  bool peer_closed = false;         // read the client's end of stream
  bool head_checked = false;        // before_body ran for this request
};

}  // namespace

class HttpServer::Loop {
 public:
  Loop(ServerOptions o, Handlers h)
      : o_(std::move(o)),
        h_(std::move(h)),
        pool_(o_.max_workers),
        max_connections_(connection_budget(o_.max_connections)) {}
  ~Loop() {
    for (int fd : {listen_fd_, ep_, wake_})
      if (fd >= 0) ::close(fd);
  }

  Result<int> bind(const std::string& host, int port);
  void run();
  void stop() {
    stop_ = true;
    wake();
  }
  bool running() const { return running_; }
  Counts counts() const { return {n_conns_.load(), pool_.threads(), pool_.busy()}; }

 private:
  using ConnPtr = std::shared_ptr<Conn>;
  void wake() {
    const uint64_t one = 1;
    if (wake_ >= 0) (void)!::write(wake_, &one, sizeof(one));
  }
  void watch(Conn& c, Conn::Watch how);
  void accept_all();
  void refuse_connection(int fd);
  void on_readable(const ConnPtr& c);
  void advance(const ConnPtr& c);
  void dispatch(const ConnPtr& c);
  void serve(const ConnPtr& c);  // on a worker
  void take_returned();
  void respond_and_close(const ConnPtr& c, const Response& res, const Request& req);
  void refuse(const ConnPtr& c, int status, const std::string& message);
  void close_conn(const ConnPtr& c);
  void sweep(Clock::time_point now);
  void close_all();
  Clock::time_point deadline_of(const Conn& c) const;

  ServerOptions o_;
  Handlers h_;
  WorkerPool pool_;
  const size_t max_connections_;
  int listen_fd_ = -1, ep_ = -1, wake_ = -1;
  bool listener_paused_ = false;
  Clock::time_point listener_resume_;
  std::unordered_map<int, ConnPtr> conns_;
  std::atomic<size_t> n_conns_{0};
  std::atomic<bool> stop_{false}, running_{false};
  std::mutex returned_mu_;
  std::vector<std::pair<ConnPtr, bool>> returned_;  // answered by a worker; whether to keep it
};

Result<int> HttpServer::Loop::bind(const std::string& host, int port) {
  auto l = listen_on(host, port);
  if (!l.is_ok()) return l.status();
  listen_fd_ = l.value().fd;
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ep_ < 0 || wake_ < 0) return Status(ErrorKind::kIo, "cannot create the server's event loop");
  for (int fd : {listen_fd_, wake_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  return l.value().port;
}

void HttpServer::Loop::watch(Conn& c, Conn::Watch how) {
  if (c.watched == how) return;
  epoll_event ev{};
  // kEnd (a request being answered): only the client's end of stream, once (edge-triggered)
  ev.events = how == Conn::Watch::kRead ? EPOLLIN | EPOLLRDHUP : EPOLLRDHUP | EPOLLET;
  ev.data.fd = c.fd;
  const int op = how == Conn::Watch::kNone         ? EPOLL_CTL_DEL
                 : c.watched == Conn::Watch::kNone ? EPOLL_CTL_ADD
                                                   : EPOLL_CTL_MOD;
  epoll_ctl(ep_, op, c.fd, &ev);
  c.watched = how;
}

void HttpServer::Loop::run() {
  running_ = true;
  epoll_event events[256];
  auto last_sweep = Clock::now();
  while (!stop_) {
    const int n = epoll_wait(ep_, events, 256, int(kSweepEvery.count()));
    for (int i = 0; i < n && !stop_; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
      } else if (fd == wake_) {
        uint64_t v;
        (void)!::read(wake_, &v, sizeof(v));
        take_returned();
      } else if (auto it = conns_.find(fd); it != conns_.end()) {
        const ConnPtr c = it->second;  // a copy: closing it erases the map's
        if (c->phase != Conn::Phase::kBusy)
          on_readable(c);
        else if (c->end_ms < 0)
          c->end_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - c->since).count();
      }
    }
    const auto now = Clock::now();
    if (now - last_sweep >= kSweepEvery) {
      sweep(now);
      last_sweep = now;
    }
  }
  close_all();
  running_ = false;
}

void HttpServer::Loop::accept_all() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // out of descriptors: stop accepting for a moment (the backlog holds the rest)
        epoll_ctl(ep_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        listener_paused_ = true;
        listener_resume_ = Clock::now() + milliseconds(100);
      }
      return;
    }
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));  // SSE events go out at once
    if (conns_.size() >= max_connections_) {
      refuse_connection(fd);
      continue;
    }
    auto c = std::make_shared<Conn>(fd, o_.limits);
    conns_[fd] = c;
    n_conns_ = conns_.size();
    watch(*c, Conn::Watch::kRead);
  }
}

// Over the connection limit: a 503 with Retry-After, then closed.
void HttpServer::Loop::refuse_connection(int fd) {
  Response res = h_.error(503, fmt::format("the server has {} connections open, its limit: retry "
                                           "later or reuse connections",
                                           max_connections_));
  res.set_header("Retry-After", "1");
  char sink[4096];
  while (::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {}  // what the client already sent
  send_all(fd, response_head(res, {1, false, false, {}, 0}) + res.body, 0);
  h_.log(Request{}, res);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

void HttpServer::Loop::on_readable(const ConnPtr& c) {
  char buf[kReadChunk];
  while (c->phase == Conn::Phase::kIdle || c->phase == Conn::Phase::kReading ||
         c->phase == Conn::Phase::kClosing) {
    const ssize_t n = ::recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // the end of the client's stream, or a reset
      c->peer_closed = true;
      if (n < 0 || c->phase == Conn::Phase::kClosing || !c->parser.started()) return close_conn(c);
      return refuse(c, 400, "the client closed the connection before the request was complete");
    }
    if (c->phase == Conn::Phase::kClosing) continue;  // discarded
    c->in.append(buf, size_t(n));
    advance(c);
  }
}

void HttpServer::Loop::advance(const ConnPtr& c) {
  RequestParser& p = c->parser;
  const RequestParser::State st = p.feed(c->in);
  if (c->phase == Conn::Phase::kIdle && p.started()) {
    c->phase = Conn::Phase::kReading;
    c->since = Clock::now();
  }
  if (st == RequestParser::State::kFailed) return refuse(c, p.error().status, p.error().message);
  if (p.head_done() && !c->head_checked) {
    c->head_checked = true;
    if (std::optional<Response> r = h_.before_body(p.request()))
      return respond_and_close(c, *r, p.request());
    if (st == RequestParser::State::kBody && p.request().expects_continue())
      send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 0);
  }
  if (st == RequestParser::State::kDone) dispatch(c);
}

void HttpServer::Loop::dispatch(const ConnPtr& c) {
  c->phase = Conn::Phase::kBusy;
  c->since = Clock::now();
  c->end_ms = c->peer_closed ? 0 : -1;
  watch(*c, Conn::Watch::kEnd);
  pool_.enqueue([this, c] { serve(c); });
}

void HttpServer::Loop::serve(const ConnPtr& c) {
  const Request& req = c->parser.request();
  Response res;
  try {
    res = h_.handle(req);
  } catch (const std::exception& e) {
    res = h_.error(500, e.what());
  } catch (...) {
    res = h_.error(500, "internal error");
  }
  const std::string* conn_field = res.find("Connection");
  const bool keep = req.keep_alive() && !stop_ && !(conn_field && iequals(*conn_field, "close"));
  const auto client_left = [&c] { return c->end_ms >= kHalfCloseMs; };
  const bool kept = write_response(
      c->fd, res, {req.minor, keep, req.method == "HEAD", client_left, o_.write_timeout_s * 1000});
  h_.log(req, res);
  {
    std::lock_guard<std::mutex> lock(returned_mu_);
    returned_.emplace_back(c, kept);
  }
  wake();
}

void HttpServer::Loop::take_returned() {
  std::vector<std::pair<ConnPtr, bool>> back;
  {
    std::lock_guard<std::mutex> lock(returned_mu_);
    back.swap(returned_);
  }
  for (auto& [c, kept] : back) {
    if (!kept || stop_) {
      close_conn(c);
      continue;
    }
    c->parser.reset();
    c->head_checked = false;
    c->phase = Conn::Phase::kIdle;
    c->since = Clock::now();
    advance(c);  // a request pipelined behind the last one may be here already
    if (c->phase == Conn::Phase::kBusy || c->fd < 0) continue;
    c->peer_closed = c->peer_closed || c->end_ms >= 0;
    if (c->peer_closed && c->phase != Conn::Phase::kClosing) {
      if (c->parser.started())
        refuse(c, 400, "the client closed the connection before the request was complete");
      else
        close_conn(c);
      continue;
    }
    watch(*c, Conn::Watch::kRead);
  }
}

// An answer from the event thread (an error: short, so it fits the socket's buffer), after which
// the connection is shut down for writing and drained for a moment, so that the client reads the
// answer rather than a reset caused by its unread bytes.
void HttpServer::Loop::respond_and_close(const ConnPtr& c, const Response& res,
                                         const Request& req) {
  send_all(c->fd, response_head(res, {req.minor, false, false, {}, 0}) + res.body, 0);
  h_.log(req, res);
  ::shutdown(c->fd, SHUT_WR);
  if (c->peer_closed) return close_conn(c);
  c->phase = Conn::Phase::kClosing;
  c->since = Clock::now();
  watch(*c, Conn::Watch::kRead);
}

void HttpServer::Loop::refuse(const ConnPtr& c, int status, const std::string& message) {
  respond_and_close(c, h_.error(status, message), c->parser.request());
}

void HttpServer::Loop::close_conn(const ConnPtr& c) {
  if (c->fd < 0) return;
  watch(*c, Conn::Watch::kNone);
  conns_.erase(c->fd);
  n_conns_ = conns_.size();
  ::close(c->fd);
  c->fd = -1;
}

Clock::time_point HttpServer::Loop::deadline_of(const Conn& c) const {
  if (c.phase == Conn::Phase::kIdle) return c.since + seconds(o_.idle_timeout_s);
  if (c.phase == Conn::Phase::kClosing) return c.since + kLingerTime;
  const size_t body_s = c.parser.body_bytes() / std::max<size_t>(o_.body_bytes_per_s, 1);
  return c.since + seconds(o_.request_timeout_s) + seconds(body_s);
}

void HttpServer::Loop::sweep(Clock::time_point now) {
  if (listener_paused_ && now >= listener_resume_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd_, &ev);
    listener_paused_ = false;
  }
  std::vector<ConnPtr> due;
  for (auto& [fd, c] : conns_)
    if (c->phase != Conn::Phase::kBusy && now >= deadline_of(*c)) due.push_back(c);
  for (const ConnPtr& c : due) {
    if (c->phase == Conn::Phase::kReading)
      refuse(c, 408,
             fmt::format("the request did not arrive within its time limit ({} s, and 1 s "
                         "more per {} bytes of body): the client sent it too slowly",
                         o_.request_timeout_s, o_.body_bytes_per_s));
    else
      close_conn(c);  // idle past the keep-alive time, or done lingering
  }
}

// At stop: no new connections; idle ones closed; those being answered shut down so their
// workers' writes fail and they return; then every worker joined.
void HttpServer::Loop::close_all() {
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<ConnPtr> all;
  for (auto& [fd, c] : conns_) all.push_back(c);
  for (const ConnPtr& c : all) {
    if (c->phase == Conn::Phase::kBusy)
      ::shutdown(c->fd, SHUT_RDWR);
    else
      close_conn(c);
  }
  pool_.shutdown();
  take_returned();  // stop_ is set: each is closed
}

HttpServer::HttpServer(ServerOptions options, Handlers handlers)
    : loop_(std::make_unique<Loop>(std::move(options), std::move(handlers))) {}
HttpServer::~HttpServer() = default;
Result<int> HttpServer::bind(const std::string& host, int port) { return loop_->bind(host, port); }
void HttpServer::run() { loop_->run(); }
void HttpServer::stop() { loop_->stop(); }
bool HttpServer::running() const { return loop_->running(); }
HttpServer::Counts HttpServer::counts() const { return loop_->counts(); }

}  // namespace wedlm::http
