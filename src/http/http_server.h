// An HTTP/1.1 server built for many slow or idle clients and few busy ones. One event thread
// (epoll) accepts connections and reads requests; a request is handed to a worker thread
// (worker_pool.h) only once its head and body are whole, so idle kept-alive connections and slow
// senders cost a buffer, not a thread. Every request gets an answer with a status: malformed
// (400), head too large (431), body too large (413, as soon as the head says so), too slow (408,
// a deadline on the whole request rather than on each read), too many connections (503). Requests
// pipelined on one connection are answered in order; a client that half-closes after its request
// still gets its answer.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "http/message.h"
#include "http/request_parser.h"

namespace wedlm::http {

struct ServerOptions {
  Limits limits;
  size_t max_connections = 0;  // open at once; 0: 8192 within the open-file limit
  size_t max_workers = 256;    // requests handled at once (the rest wait in order)
  int idle_timeout_s = 30;     // a kept-alive connection between requests
  // A request's head and body must arrive within this many seconds of its first byte, plus one
  // second for every `body_bytes_per_s` bytes of body: a slowloris client is answered 408.
  int request_timeout_s = 30;
  size_t body_bytes_per_s = 64 << 10;
  int write_timeout_s = 30;  // a write that makes no progress for this long drops the connection
};

struct Handlers {
  // After a request's head, before its body is read; a response refuses the request (and the
  // connection is closed after it, its body unread). Called on the event thread: keep it cheap.
  std::function<std::optional<Response>(const Request&)> before_body;
  // The whole request; called on a worker thread.
  std::function<Response(const Request&)> handle;
  // The response to an error the server finds itself (status and what was wrong).
  std::function<Response(int status, const std::string& message)> error;
  // After every response, with its request (only as far as it was parsed, for early errors).
  std::function<void(const Request&, const Response&)> log;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Handlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (SO_REUSEADDR, not SO_REUSEPORT: a port in use is an error naming it);
  // the bound port (`port` 0: any free one).
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); call once, after bind().
  void run();
  // From any thread, before or during run(): stops accepting, closes idle connections, shuts
  // down those being answered (their writes fail), waits for the workers, ends run().
  void stop();
  bool running() const;

  struct Counts {
    size_t connections = 0, workers = 0, busy_workers = 0;
  };
  Counts counts() const;

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace wedlm::http
