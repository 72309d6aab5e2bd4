// The HTTP server: OpenAI's /v1/chat/completions, /v1/completions and /v1/models, llama-server's
// /health, /tokenize, /detokenize and /apply-template, Prometheus /metrics. HTTP threads parse,
// validate and submit; the engine's loop thread decodes (DESIGN.md). The server listens before the
// model is loaded (/health answers 503 until attach()), and shutdown() drains: it refuses new
// requests, lets in-flight ones finish within a grace period, then cancels the rest.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/served_model.h"

namespace wedlm::http {
class HttpServer;
struct Request;
struct Response;
}  // namespace wedlm::http

namespace wedlm::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port (bind() returns it)
  std::string api_key;       // "" = no authentication
  int timeout_s = 600;       // per-request time limit (a generation's deadline)
  bool log_prompts = false;  // put prompt and reply text in the request log
  size_t max_body_bytes = 8u << 20;
  int http_threads = 0;        // most HTTP worker threads; 0: default_http_threads({})
  size_t max_connections = 0;  // open at once; 0: 8192 within the open-file limit
  // A request's head and body must arrive within this (plus 1 s per 64 KiB of body), else 408.
  int request_read_timeout_s = 30;
  int keep_alive_timeout_s = 30;  // an idle kept-alive connection is closed after this
  std::string build = "unknown";  // the build commit (wedlm:build_info)
};

// HTTP worker threads by default: one for every request the engine can hold, running or queued
// (so overload is a 503 from the engine, not a request waiting unseen for a worker), and 16 for
// the other endpoints; at most 4096. Connections that are idle or still sending hold no worker.
int default_http_threads(const SchedulerConfig& engine);

class Server {
 public:
  explicit Server(ServerConfig cfg);
  ~Server();
  // Binds the listening socket; the bound port, or an error naming host and port.
  Result<int> bind();
  // Serves until shutdown() (blocks the calling thread).
  void run();
  // The model is ready: generation requests are accepted from now on.
  void attach(const ServedModel& model, Engine& engine);
  // Stops accepting, waits up to `grace` for in-flight requests, cancels the rest, stops run().
  void shutdown(std::chrono::milliseconds grace);

 private:
  using Request = http::Request;
  using Response = http::Response;
  Response handle(const Request& req);            // routes a whole request
  bool route(const Request& req, Response& res);  // false: no endpoint has the path
  bool authorized(const Request& req) const;
  std::optional<ApiError> refused_before_body(const Request& req) const;
  void access_log(const Request& req, const Response& res);
  void generate(const Request& req, Response& res, bool chat);
  void tokenize(const Request& req, Response& res);
  void detokenize(const Request& req, Response& res);
  void apply_template(const Request& req, Response& res);
  void models(Response& res);
  void model(const std::string& id, Response& res);
  void health(Response& res);
  void metrics(Response& res);

  ServerConfig cfg_;
  std::unique_ptr<http::HttpServer> http_;
  std::atomic<const ServedModel*> model_{nullptr};
  std::atomic<Engine*> engine_{nullptr};
  std::atomic<bool> draining_{false}, abort_{false};
  std::atomic<int64_t> in_flight_{0}, next_id_{1};
  int port_ = -1;  // bound
  Metrics metrics_;
};

// Constant-time comparison of a presented key with the expected one.
bool keys_equal(const std::string& presented, const std::string& expected);

}  // namespace wedlm::server
