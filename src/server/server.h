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

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace wedlm::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: any free port (bind() returns it)
  std::string api_key;       // "" = no authentication
  int timeout_s = 600;       // socket read/write timeout and per-request time limit
  bool log_prompts = false;  // put prompt and reply text in the request log
  size_t max_body_bytes = 8u << 20;
  int http_threads = 0;           // most HTTP worker threads; 0: default_http_threads({})
  std::string build = "unknown";  // the build commit (wedlm:build_info)
};

// HTTP worker threads by default: one for every request the engine can hold, running or queued
// (so overload is a 503 from the engine, not a connection waiting unseen), and 16 for the other
// endpoints; at most 4096.
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
  void routes();
  bool authorized(const httplib::Request& req) const;
  std::optional<ApiError> refused_before_body(const httplib::Request& req) const;
  void access_log(const httplib::Request& req, const httplib::Response& res);
  void generate(const httplib::Request& req, httplib::Response& res, bool chat);
  void tokenize(const httplib::Request& req, httplib::Response& res);
  void detokenize(const httplib::Request& req, httplib::Response& res);
  void apply_template(const httplib::Request& req, httplib::Response& res);
  void models(httplib::Response& res);
  void model(const std::string& id, httplib::Response& res);
  void health(httplib::Response& res);

  ServerConfig cfg_;
  std::unique_ptr<httplib::Server> http_;
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
