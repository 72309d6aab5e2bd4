#include "server/server.h"

#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/core.h>

#include "http/http_server.h"
#include "server/http_util.h"
#include "server/log.h"

namespace wedlm::server {

using json = nlohmann::ordered_json;
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

namespace {

http::ServerOptions http_options(const ServerConfig& c) {
  http::ServerOptions o;
  o.limits.max_body_bytes = c.max_body_bytes;
  o.max_connections = c.max_connections;
  o.max_workers = size_t(c.http_threads > 0 ? c.http_threads : default_http_threads({}));
  o.idle_timeout_s = c.keep_alive_timeout_s;
  o.request_timeout_s = c.request_read_timeout_s;
  o.write_timeout_s = std::min(c.timeout_s, 30);
  return o;
}

http::Response error_response(const ApiError& e) {
  http::Response res;
  send_error(res, e);
  return res;
}

ApiError unauthorized() {
  return {401, "authentication_error",
          "Invalid or missing API key (send 'Authorization: Bearer <key>')", "", "invalid_api_key"};
}

}  // namespace

Server::Server(ServerConfig cfg) : cfg_(std::move(cfg)), metrics_(cfg_.build) {
  http::Handlers h;
  h.before_body = [this](const Request& req) -> std::optional<Response> {
    const std::optional<ApiError> refused = refused_before_body(req);
    if (!refused) return std::nullopt;
    return error_response(*refused);
  };
  h.handle = [this](const Request& req) { return handle(req); };
  h.error = [](int status, const std::string& message) {
    ApiError e = from_http_status(status);
    e.message = message;
    return error_response(e);
  };
  h.log = [this](const Request& req, const Response& res) { access_log(req, res); };
  http_ = std::make_unique<http::HttpServer>(http_options(cfg_), std::move(h));
}

Server::~Server() = default;

Result<int> Server::bind() {
  auto port = http_->bind(cfg_.host, cfg_.port);
  if (port.is_ok()) port_ = port.value();
  return port;
}

void Server::run() { http_->run(); }

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
  http_->stop();                  // idle connections closed, the rest shut down; run() returns
}

bool Server::authorized(const Request& req) const {
  if (cfg_.api_key.empty() || req.path == "/health" || req.path == "/metrics" ||
      req.method == "OPTIONS")  // CORS preflights carry no credentials
    return true;
  const std::string h = req.header("Authorization");
  const std::string prefix = "Bearer ";
  return h.compare(0, prefix.size(), prefix) == 0 &&
         keys_equal(h.substr(prefix.size()), cfg_.api_key);
}

// What is answered before the body is read (the connection is closed after it, the body unread):
// a compressed body (inflating it would be a way past the body limit: 1 MiB of gzip is 1 GiB)
// and a request without the key.
std::optional<ApiError> Server::refused_before_body(const Request& req) const {
  const std::string encoding = req.header("Content-Encoding");
  if (!encoding.empty() && !http::iequals(encoding, "identity"))
    return ApiError{415, "invalid_request_error",
                    "Content-Encoding '" + encoding.substr(0, 40) +
                        "' is not accepted: send the body uncompressed",
                    "", ""};
  if (!authorized(req)) return unauthorized();
  return std::nullopt;
}

// Counts every HTTP request by endpoint and status; logs the errors of the endpoints that do
// not log their own (generation requests do, marked by X-Request-Id).
void Server::access_log(const Request& req, const Response& res) {
  static const char* kKnown[] = {
      "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/tokenize",
      "/detokenize",          "/apply-template", "/metrics"};
  std::string endpoint = "other";
  for (const char* k : kKnown)
    if (req.path == k) endpoint = k;
  metrics_.on_http(endpoint, res.status);
  if (res.status >= 400 && !res.find("X-Request-Id")) {
    ojson line = {{"event", "request"},
                  {"endpoint", endpoint},
                  {"method", req.method},
                  {"path", req.path.substr(0, 200)},
                  {"status", res.status}};
    if (res.status == 408 || res.status == 431 || (res.status == 400 && req.method.empty()) ||
        res.status == 503)  // found by the HTTP layer: say what
      line["error"] =
          json::parse(res.body, nullptr, false).value("/error/message"_json_pointer, "");
    log_json(level_of_status(res.status), line);
  }
}

Server::Response Server::handle(const Request& req) {
  Response res;
  if (req.method == "OPTIONS") {  // CORS preflight: any origin, the API's methods and headers
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.set_header("Access-Control-Max-Age", "86400");
  } else if (!route(req, res)) {
    send_error(res,
               {404, "not_found_error",
                fmt::format("no endpoint {} {}", req.method.substr(0, 10), req.path.substr(0, 200)),
                "", ""});
  }
  res.set_header("Access-Control-Allow-Origin", "*");  // browsers' clients (web UIs)
  return res;
}

// The endpoints. A known path asked with another method is 405 naming the one it takes.
bool Server::route(const Request& req, Response& res) {
  using Handler = std::function<void()>;
  struct Route {
    const char* path;
    const char* method;
    bool needs_key;
    Handler run;
  };
  const Route routes[] = {
      {"/v1/chat/completions", "POST", true, [&] { generate(req, res, true); }},
      {"/v1/completions", "POST", true, [&] { generate(req, res, false); }},
      {"/v1/models", "GET", true, [&] { models(res); }},
      {"/health", "GET", false, [&] { health(res); }},
      {"/metrics", "GET", false, [&] { metrics(res); }},
      {"/tokenize", "POST", true, [&] { tokenize(req, res); }},
      {"/detokenize", "POST", true, [&] { detokenize(req, res); }},
      {"/apply-template", "POST", true, [&] { apply_template(req, res); }},
  };
  const std::string kModelPrefix = "/v1/models/";
  const Route by_id = {"/v1/models/{id}", "GET", true,
                       [&] { model(req.path.substr(kModelPrefix.size()), res); }};
  const Route* r = nullptr;
  for (const Route& candidate : routes)
    if (req.path == candidate.path) r = &candidate;
  if (!r && req.path.size() > kModelPrefix.size() && req.path.rfind(kModelPrefix, 0) == 0)
    r = &by_id;
  if (!r) return false;
  const bool method_ok =
      req.method == r->method || (req.method == "HEAD" && r->method == std::string("GET"));
  if (!method_ok) {
    send_error(res, {405, "invalid_request_error",
                     fmt::format("{} takes {}, not {}", req.path.substr(0, 200), r->method,
                                 req.method.substr(0, 10)),
                     "", ""});
    res.set_header("Allow", r->method);
  } else if (r->needs_key && !authorized(req)) {  // again: routes do not rest on before_body
    send_error(res, unauthorized());
  } else {
    r->run();
  }
  return true;
}

void Server::metrics(Response& res) {
  Engine* e = engine_.load();
  const EngineStats st = e ? e->stats() : EngineStats{};
  const http::HttpServer::Counts c = http_->counts();
  res.set_content(metrics_.render(e ? &st : nullptr, {c.connections, c.workers, c.busy_workers}),
                  "text/plain; version=0.0.4; charset=utf-8");
}

void Server::health(Response& res) {
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

void Server::models(Response& res) {
  const ServedModel* m = model_.load();
  ojson data = ojson::array();
  if (m) data.push_back(model_card(*m, m->name));
  send_json(res, {{"object", "list"}, {"data", data}});
}

// GET /v1/models/{id}: the card of a served name (the SDK's models.retrieve), else 404.
void Server::model(const std::string& id, Response& res) {
  const ServedModel* m = model_.load();
  if (!m) return send_error(res, unavailable("Loading model"));
  if (!m->serves(id))
    return send_error(
        res, {404, "invalid_request_error", "The model '" + id.substr(0, 200) + "' does not exist",
              "model", "model_not_found"});
  send_json(res, model_card(*m, id));
}

}  // namespace wedlm::server
