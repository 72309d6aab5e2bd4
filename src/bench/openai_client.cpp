#include "bench/openai_client.h"

#include <chrono>

#include <fmt/core.h>
#include <httplib.h>

namespace wedlm::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// One parsed stream event into the outcome; `last` is the time of the previous content chunk.
void on_event(const std::string& data, RequestOutcome& o, Clock::time_point t0,
              Clock::time_point& last, bool& done) {
  if (data == "[DONE]") {
    done = true;
    return;
  }
  const json j = json::parse(data, nullptr, false);
  if (!j.is_object()) return;
  if (j.contains("usage") && j["usage"].is_object()) {
    const json& u = j["usage"];
    o.prompt_tokens = u.value("prompt_tokens", int64_t(0));
    o.output_tokens = u.value("completion_tokens", int64_t(0));
    if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object())
      o.cached_tokens = u["prompt_tokens_details"].value("cached_tokens", int64_t(0));
    o.usage_reported = true;
  }
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
  const json& c = j["choices"][0];
  std::string piece;
  if (c.contains("delta") && c["delta"].is_object() &&
      c["delta"].value("content", json()).is_string())
    piece = c["delta"]["content"].get<std::string>();
  else if (c.value("text", json()).is_string())
    piece = c["text"].get<std::string>();
  if (c.value("finish_reason", json()).is_string()) o.finish_reason = c["finish_reason"];
  if (piece.empty()) return;
  const auto now = Clock::now();
  if (o.n_chunks == 0)
    o.ttft_ms = std::chrono::duration<double, std::milli>(now - t0).count();
  else
    o.itl_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
  last = now;
  ++o.n_chunks;
  o.text += piece;
}

}  // namespace

Result<std::string> first_model(const ClientConfig& cfg) {
  httplib::Client cli(cfg.base_url);
  cli.set_read_timeout(cfg.timeout_s, 0);
  httplib::Headers headers;
  if (!cfg.api_key.empty()) headers.emplace("Authorization", "Bearer " + cfg.api_key);
  const auto res = cli.Get("/v1/models", headers);
  const auto fail = [&](const std::string& why) {
    return Status(ErrorKind::kIo,
                  fmt::format("{}/v1/models: {} (give --model)", cfg.base_url, why));
  };
  if (!res) return fail(httplib::to_string(res.error()));
  if (res->status != 200) return fail(fmt::format("HTTP {}", res->status));
  const json j = json::parse(res->body, nullptr, false);
  if (!j.is_object() || !j.value("data", json()).is_array() || j["data"].empty() ||
      !j["data"][0].value("id", json()).is_string())
    return fail("no model listed");
  return j["data"][0]["id"].get<std::string>();
}

RequestOutcome stream_request(const ClientConfig& cfg, json body, const HeaderList& headers) {
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  RequestOutcome o;
  httplib::Client cli(cfg.base_url);
  cli.set_read_timeout(cfg.timeout_s, 0);
  cli.set_write_timeout(cfg.timeout_s, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = cfg.endpoint;
  req.set_header("Content-Type", "application/json");
  if (!cfg.api_key.empty()) req.set_header("Authorization", "Bearer " + cfg.api_key);
  for (const auto& [name, value] : headers) req.set_header(name, value);
  req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  SseParser sse;
  std::string raw;  // the body of an error reply
  int status = 0;
  bool done = false;  // the [DONE] event came
  const auto t0 = Clock::now();
  auto last = t0;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200)
      raw.append(data, n);
    else
      sse.feed(data, n, [&](const std::string& e) { on_event(e, o, t0, last, done); });
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = cli.send(req, res, err);
  o.e2e_ms = ms_since(t0);
  if (!sent) {
    o.error = fmt::format("{}: {}", cfg.base_url, httplib::to_string(err));
  } else if (status != 200) {
    const json e = json::parse(raw, nullptr, false);
    const std::string msg = e.is_object() && e.contains("error") && e["error"].is_object()
                                ? e["error"].value("message", raw)
                                : raw;
    o.error = fmt::format("HTTP {}: {}", status, msg.substr(0, 300));
  } else if (!done) {
    o.error = fmt::format("{}: the stream ended before its [DONE] event", cfg.base_url);
  } else {
    o.ok = true;
    if (!o.usage_reported) o.output_tokens = o.n_chunks;
  }
  return o;
}

}  // namespace wedlm::bench
