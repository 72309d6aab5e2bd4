#include "server/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/core.h>
#include <httplib.h>

#include "server/connections.h"
#include "server/http_util.h"
#include "server/log.h"
#include "server/task_pool.h"

namespace wedlm::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

bool keys_equal(const std::string& presented, const std::string& expected) {
  // Time depends on the expected key's length only, never on where the keys differ.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < presented.size() ? presented[i] : 0));
  return diff == 0;
}

int default_http_threads(const SchedulerConfig& engine) {
  return int(std::min<int64_t>(engine.max_running + engine.max_waiting + 16, 4096));
}

Server::Server(ServerConfig cfg)
    : cfg_(std::move(cfg)), http_(std::make_unique<httplib::Server>()), metrics_(cfg_.build) {
  routes();
}

Server::~Server() = default;

namespace {

// The listening socket's queue of connections not yet accepted. cpp-httplib (0.11, as Debian
// builds it) listens with a backlog of 5, so a burst of new connections overflowed it and clients
// waited out SYN retries (seconds) or timed out; the kernel caps this at net.core.somaxconn.
constexpr int kListenBacklog = 4096;
// Requests one kept-alive connection may carry (cpp-httplib's default, 5, made clients reconnect
// every 5 requests) and how long it may idle between them.
constexpr size_t kKeepAliveMaxRequests = size_t(1) << 20;
constexpr time_t kKeepAliveIdleSeconds = 30;

// Why a bind failed, from errno right after it.
std::string bind_failure(const std::string& host, int port, int err) {
  const std::string where = fmt::format("cannot listen on {}:{}", host, port);
  if (err == EADDRINUSE) return where + ": the port is in use (is another server running?)";
  if (err == EADDRNOTAVAIL) return where + ": not an address of this machine";
  if (err == EACCES) return where + ": permission denied (ports below 1024 need privileges)";
  return where + " (in use, or not an address of this machine)";
}

}  // namespace

Result<int> Server::bind() {
  const size_t n_threads =
      size_t(cfg_.http_threads > 0 ? cfg_.http_threads : default_http_threads({}));
  http_->new_task_queue = [n_threads] { return new ElasticPool(n_threads); };
  // A request is read within 30 s and a write makes progress within 30 s (else the connection is
  // dropped); --timeout bounds a whole request (CompletionRun's deadline).
  const int socket_s = std::min(cfg_.timeout_s, 30);
  http_->set_read_timeout(socket_s, 0);
  http_->set_write_timeout(socket_s, 0);
  http_->set_payload_max_length(cfg_.max_body_bytes);
  http_->set_keep_alive_max_count(kKeepAliveMaxRequests);
  http_->set_keep_alive_timeout(kKeepAliveIdleSeconds);
  http_->set_tcp_nodelay(true);  // SSE chunks go out as they are written
  // SO_REUSEADDR (a restart binds at once) but not cpp-httplib's SO_REUSEPORT, with which a
  // second server on the same port starts and silently takes half the connections. The socket
  // is remembered to raise its backlog once bound.
  int listening = -1;
  http_->set_socket_options([&listening](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listening = sock;
  });
  errno = 0;
  const int port = cfg_.port == 0 ? http_->bind_to_any_port(cfg_.host)
                                  : (http_->bind_to_port(cfg_.host, cfg_.port) ? cfg_.port : -1);
  const int err = errno;
  http_->set_socket_options([](socket_t) {});
  if (port < 0) return Status(ErrorKind::kIo, bind_failure(cfg_.host, cfg_.port, err));
  if (::listen(listening, kListenBacklog) != 0)  // again, on the bound socket: a longer queue
    return Status(ErrorKind::kIo,
                  fmt::format("cannot listen on {}:{}: {}", cfg_.host, port, std::strerror(errno)));
  port_ = port;
  return port;
}

void Server::run() { http_->listen_after_bind(); }

void Server::attach(const ServedModel& model, Engine& engine) {
  engine_ = &engine;
  model_ = &model;
}

void Server::shutdown(std::chrono::milliseconds grace) {
  draining_ = true;
  const auto wait = [this](std::chrono::milliseconds limit) {
    const auto until = Clock::now() + limit;
    while (in_flight_ > 0 && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  wait(grace);
  abort_ = true;                  // what is still running is cancelled and answers with what it has
  wait(std::chrono::seconds(5));  // a client that stopped reading is not waited for longer
  // stop() is lost if it comes before run() has started listening: wait for that (briefly)
  for (int i = 0; i < 200 && !http_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // stop() joins the worker threads; those of idle kept-alive connections would wait out their
  // idle timeout (30 s): their connections are closed until it returns
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    http_->stop();
    stopped = true;
  });
  while (!stopped) {
    shut_down_connections(port_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stopper.join();
}

bool Server::authorized(const httplib::Request& req) const {
  if (cfg_.api_key.empty() || req.path == "/health" || req.path == "/metrics" ||
      req.method == "OPTIONS")  // CORS preflights carry no credentials
    return true;
  const std::string h = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  return h.compare(0, prefix.size(), prefix) == 0 &&
         keys_equal(h.substr(prefix.size()), cfg_.api_key);
}

namespace {

ApiError unauthorized() {
  return {401, "authentication_error",
          "Invalid or missing API key (send 'Authorization: Bearer <key>')", "", "invalid_api_key"};
}

}  // namespace

// What is answered before the body is read: a compressed body (cpp-httplib would inflate it past
// the body limit: 1 MiB of gzip is 1 GiB) and a request without the key.
std::optional<ApiError> Server::refused_before_body(const httplib::Request& req) const {
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity")
    return ApiError{415, "invalid_request_error",
                    "Content-Encoding '" + encoding.substr(0, 40) +
                        "' is not accepted: send the body uncompressed",
                    "", ""};
  if (!authorized(req)) return unauthorized();
  return std::nullopt;
}

// Counts every HTTP request by endpoint and status; logs the errors of the endpoints that do
// not log their own (generation requests do, marked by X-Request-Id).
void Server::access_log(const httplib::Request& req, const httplib::Response& res) {
  static const char* kKnown[] = {
      "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/tokenize",
      "/detokenize",          "/apply-template", "/metrics"};
  std::string endpoint = "other";
  for (const char* k : kKnown)
    if (req.path == k) endpoint = k;
  metrics_.on_http(endpoint, res.status);
  if (res.status >= 400 && !res.has_header("X-Request-Id"))
    log_json(level_of_status(res.status), {{"event", "request"},
                                           {"endpoint", endpoint},
                                           {"method", req.method},
                                           {"path", req.path.substr(0, 200)},
                                           {"status", res.status}});
}

void Server::routes() {
  httplib::Server& s = *http_;
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send_error(res, from_http_status(res.status));
  });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {}
        send_error(res, {500, "server_error", what, "", ""});
      });
  s.set_logger([this](const auto& req, const auto& res) { access_log(req, res); });
  // Browsers' clients (web UIs) need CORS: any origin, the API's methods and headers.
  s.set_default_headers({{"Access-Control-Allow-Origin", "*"}});
  s.Options(R"(/.*)", [](const auto&, httplib::Response& r) {
    r.status = 204;
    r.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    r.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    r.set_header("Access-Control-Max-Age", "86400");
  });
  // Before the body is read (refused_before_body), the connection closed after the answer, so
  // that the unread body is never taken for the next request.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::optional<ApiError> refused = refused_before_body(req);
    if (!refused) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, *refused);
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  // The handlers check the key again (the routes' contract does not rest on the order above).
  const auto guarded = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req)) return send_error(res, unauthorized());
      handler(req, res);
    };
  };
  s.Post("/v1/chat/completions", guarded([this](const auto& q, auto& r) { generate(q, r, true); }));
  s.Post("/v1/completions", guarded([this](const auto& q, auto& r) { generate(q, r, false); }));
  for (const char* post_only :
       {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/apply-template"})
    s.Get(post_only, [](const auto& q, auto& r) {
      send_error(r, {405, "invalid_request_error", q.path + " takes POST", "", ""});
    });
  s.Get("/v1/models", guarded([this](const auto&, auto& r) { models(r); }));
  s.Get(R"(/v1/models/(.+))",
        guarded([this](const auto& q, auto& r) { model(q.matches[1].str(), r); }));
  s.Get("/health", [this](const auto&, auto& r) { health(r); });
  s.Post("/tokenize", guarded([this](const auto& q, auto& r) { tokenize(q, r); }));
  s.Post("/detokenize", guarded([this](const auto& q, auto& r) { detokenize(q, r); }));
  s.Post("/apply-template", guarded([this](const auto& q, auto& r) { apply_template(q, r); }));
  s.Get("/metrics", [this](const auto&, auto& r) {
    Engine* e = engine_.load();
    const EngineStats st = e ? e->stats() : EngineStats{};
    r.set_content(metrics_.render(e ? &st : nullptr), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void Server::health(httplib::Response& res) {
  if (draining_) return send_error(res, unavailable("The server is shutting down"));
  if (!model_.load()) return send_error(res, unavailable("Loading model"));
  send_json(res, {{"status", "ok"}});
}

namespace {

ojson model_card(const ServedModel& m, const std::string& id) {
  return {{"id", id},
          {"object", "model"},
          {"created", m.created},
          {"owned_by", "wedlm.cpp"},
          {"max_model_len", m.facts.context}};
}

}  // namespace

void Server::models(httplib::Response& res) {
  const ServedModel* m = model_.load();
  ojson data = ojson::array();
  if (m) data.push_back(model_card(*m, m->name));
  send_json(res, {{"object", "list"}, {"data", data}});
}

// GET /v1/models/{id}: the card of a served name (the SDK's models.retrieve), else 404.
void Server::model(const std::string& id, httplib::Response& res) {
  const ServedModel* m = model_.load();
  if (!m) return send_error(res, unavailable("Loading model"));
  if (!m->serves(id))
    return send_error(
        res, {404, "invalid_request_error", "The model '" + id.substr(0, 200) + "' does not exist",
              "model", "model_not_found"});
  send_json(res, model_card(*m, id));
}

}  // namespace wedlm::server
