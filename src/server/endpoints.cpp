// The request handlers of Server that need a model: generation, tokenize, detokenize,
// apply-template (server.cpp has the routes, authentication and lifecycle).
#include <fmt/core.h>

#include "http/message.h"
#include "server/completion_run.h"
#include "server/http_util.h"
#include "server/json_fields.h"
#include "server/log.h"
#include "server/server.h"

namespace wedlm::server {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

// The request log line of a generation request that reached the engine.
ojson log_of(const std::string& id, const ApiRequest& r, const CompletionRun& run, double e2e_ms,
             bool log_prompts, const Tokenizer& tok) {
  const RequestCounters& c = run.end().counters;
  ojson j = {
      {"event", "request"},
      {"id", id},
      {"endpoint", r.chat ? "/v1/chat/completions" : "/v1/completions"},
      {"status", 200},
      {"stream", r.stream},
      {"prompt_tokens", c.prompt_tokens},
      {"completion_tokens", c.completion_tokens},
      {"cached_tokens", c.cached_tokens},
      {"ttft_ms", std::round(c.first_token_ms * 100) / 100},
      {"e2e_ms", std::round(e2e_ms * 100) / 100},
      {"forwards", c.forwards},
      {"tokens_per_forward",
       c.forwards ? std::round(100.0 * double(c.completion_tokens) / double(c.forwards)) / 100
                  : 0.0},
      {"preemptions", c.preemptions},
      {"finish_reason", finish_reason_of(run.end().finish_reason)},
      {"client_gone", run.client_gone()}};
  if (!r.user.empty()) j["user"] = r.user;
  if (log_prompts) {  // the prompt as the model saw it (template markers included)
    auto prompt = tok.decode(r.engine.prompt, false);
    j["prompt"] = prompt.is_ok() ? prompt.value() : "", j["reply"] = run.text();
  }
  return j;
}

ojson error_log_of(const std::string& id, const std::string& endpoint, const ApiError& e,
                   double e2e_ms, bool log_messages) {
  ojson j = {{"event", "request"},
             {"id", id},
             {"endpoint", endpoint},
             {"status", e.status},
             {"error_type", e.type},
             {"param", e.param},
             {"e2e_ms", std::round(e2e_ms * 100) / 100}};
  if (log_messages) j["error"] = e.message;  // messages can quote request fields
  return j;
}

// A loaded model and a JSON body, or false after answering the error.
bool model_and_body(const ServedModel* m, const http::Request& req, http::Response& res,
                    json& body) {
  if (!m) return send_error(res, unavailable("Loading model")), false;
  auto b = json_body(req);
  if (auto* e = std::get_if<ApiError>(&b)) return send_error(res, *e), false;
  body = std::move(std::get<json>(b));
  return true;
}

// Writes the choices in turn (the engine decodes them together; events wait in their handles):
// SSE events then the stream's end (merged usage, [DONE]), or one reply with a choice each.
void write_choices(const ApiRequest& api, const std::vector<std::shared_ptr<CompletionRun>>& runs,
                   bool chat, const std::string& id, const CompletionRun::Write& write) {
  std::vector<RequestCounters> counters;
  ojson reply;
  for (const auto& run : runs) {
    if (api.stream) {
      run->stream(write);
    } else {
      ojson one = run->collect(write);
      if (reply.is_null())
        reply = std::move(one);
      else
        reply["choices"].push_back(std::move(one["choices"][0]));
    }
    counters.push_back(run->end().counters);
  }
  const ReplyHeader header{chat, id, api.model, unix_now(), 0};  // made once every choice ended
  if (api.stream) return void(write(stream_end(api, header, merged(counters))));
  if (runs.size() > 1) reply["usage"] = usage_of(merged(counters));
  write(dumped(reply));
}

}  // namespace

void Server::generate(const http::Request& req, http::Response& res, bool chat) {
  const auto t0 = Clock::now();
  auto in_flight = std::make_shared<InFlight>(in_flight_);
  const ServedModel* m = model_.load();
  Engine* engine = engine_.load();
  const std::string id = request_id(chat ? "chatcmpl-" : "cmpl-", next_id_++);
  res.set_header("X-Request-Id", id);  // also tells the access log that this request logged
  const auto fail = [&](const ApiError& e) {
    send_error(res, e);
    log_json(level_of_status(e.status),
             error_log_of(id, req.path, e, ms_since(t0), cfg_.log_prompts));
  };
  if (draining_) return fail(unavailable("The server is shutting down"));
  if (!m || !engine) return fail(unavailable("Loading model"));
  auto body = json_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) return fail(*e);
  auto parsed = chat ? parse_chat(std::get<json>(body), *m, fresh_seed())
                     : parse_completion(std::get<json>(body), *m, fresh_seed());
  if (auto* e = std::get_if<ApiError>(&parsed)) return fail(*e);
  auto api = std::make_shared<ApiRequest>(std::move(std::get<ApiRequest>(parsed)));
  auto runs = std::make_shared<std::vector<std::shared_ptr<CompletionRun>>>();
  for (int64_t i = 0; i < api->n; ++i) {  // choice i: its own request, seed + i
    wedlm::Request choice = api->engine;
    choice.params.sampling.seed += uint64_t(i);
    auto handle = engine->submit(choice);
    if (!handle.is_ok()) {
      for (auto& run : *runs) run->cancel();
      return fail(submit_error(handle.status(), api->chat));
    }
    runs->push_back(std::make_shared<CompletionRun>(
        *m, *api, ReplyHeader{chat, id, api->model, unix_now(), int(i)}, handle.value(),
        t0 + std::chrono::seconds(cfg_.timeout_s), &abort_));
    if (i == 0 && api->n > 1)  // the others reuse its prompt's KV from the prefix cache
      handle.value()->wait_for_event(std::chrono::seconds(cfg_.timeout_s));
  }
  const auto finished = [this, api, runs, id, t0, m] {
    for (const auto& run : *runs) {
      metrics_.on_request(run->end().counters, finish_reason_of(run->end().finish_reason));
      ojson line = log_of(id, *api, *run, ms_since(t0), cfg_.log_prompts, *m->tok);
      if (runs->size() > 1) line["choice"] = run->index();
      log_json(LogLevel::kInfo, line);
    }
  };
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  // Both kinds are written as they are produced, so a client that leaves is noticed (a failed
  // write) and its request cancelled: SSE events, or the reply after whitespace heartbeats.
  res.set_stream(api->stream ? "text/event-stream" : "application/json",
                 [api, runs, finished, in_flight, chat, id](http::BodyWriter& body) {
                   write_choices(*api, *runs, chat, id,
                                 [&](const std::string& s) { return body.write(s); });
                   finished();
                 });
}

void Server::tokenize(const http::Request& req, http::Response& res) {
  const ServedModel* m = model_.load();
  json body;
  if (!model_and_body(m, req, res, body)) return;
  const json& b = body;
  JsonFields f(b);
  const bool special = f.boolean("parse_special").value_or(true);
  const bool with_pieces = f.boolean("with_pieces").value_or(false);
  if (f.error()) return send_error(res, *f.error());
  Result<std::vector<int32_t>> ids = std::vector<int32_t>{};
  if (b.contains("messages")) {
    auto conv = parse_conversation(b);
    if (auto* e = std::get_if<ApiError>(&conv)) return send_error(res, *e);
    ids = m->chat->encode(*m->tok, std::get<ChatRequest>(conv));
  } else {
    const char* key = b.contains("content") ? "content" : "prompt";
    const auto text = f.string(key);
    if (!text)
      return send_error(res, invalid_request("'content' (or 'prompt') must be a string", key));
    ids = m->tok->encode(*text, special);
  }
  if (!ids.is_ok()) return send_error(res, from_status(ids.status()));
  ojson out = {
      {"tokens", ids.value()}, {"count", ids.value().size()}, {"max_model_len", m->facts.context}};
  if (with_pieces) {
    ojson pieces = ojson::array();
    for (int32_t id : ids.value()) {
      const int32_t one[1] = {id};
      auto t = m->tok->decode(one, false);
      pieces.push_back({{"id", id}, {"piece", t.is_ok() ? t.value() : ""}});
    }
    out["tokens"] = std::move(pieces);
  }
  send_json(res, out);
}

void Server::detokenize(const http::Request& req, http::Response& res) {
  const ServedModel* m = model_.load();
  json body;
  if (!model_and_body(m, req, res, body)) return;
  const json& b = body;
  const json& t = b.contains("tokens") ? b["tokens"] : b;  // b: not an array, refused below
  std::vector<int32_t> ids;
  const auto bad = [&] {
    send_error(res, invalid_request(fmt::format("'tokens' must be an array of token ids in [0, {})",
                                                m->config.vocab_size),
                                    "tokens"));
  };
  if (!t.is_array()) return bad();
  for (const json& v : t) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= m->tok->size())
      return bad();
    ids.push_back(v.get<int32_t>());
  }
  auto text = m->tok->decode(ids, false);
  if (!text.is_ok()) return send_error(res, from_status(text.status()));
  send_json(res, {{"content", text.value()}});
}

void Server::apply_template(const http::Request& req, http::Response& res) {
  const ServedModel* m = model_.load();
  json body;
  if (!model_and_body(m, req, res, body)) return;
  auto conv = parse_conversation(body);
  if (auto* e = std::get_if<ApiError>(&conv)) return send_error(res, *e);
  auto text = m->chat->render(std::get<ChatRequest>(conv));
  if (!text.is_ok()) return send_error(res, invalid_request(text.status().message(), "messages"));
  send_json(res, {{"prompt", text.value().text}});
}

}  // namespace wedlm::server
