// wedlm batch: JSONL requests through the serving engine, `--concurrency` of them in flight, one
// JSON result per request in input order, then a summary (aggregate committed tokens/s).
// Request lines: {"prompt_ids": [..]} | {"prompt": "raw text"} | {"messages": [{"role",
// "content"}]} with optional "max_tokens", "mode", "temperature", "seed" overriding the flags, and
// "id" echoed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/utf8.h"
#include "tools/cli.h"

namespace wedlm::cli {
namespace {

using nlohmann::json;

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

// What every request line is read against: the model and its chat template (loaded once).
struct Context {
  const CommonFlags& f;
  const GenerateParams& g;
  const Loaded& m;
  std::optional<ChatTemplate> tmpl;
};

Result<std::vector<int32_t>> prompt_ids_of(const json& in, const Context& cx) {
  const Loaded& m = cx.m;
  if (in.contains("prompt_ids")) {
    if (!in["prompt_ids"].is_array()) return bad("\"prompt_ids\" must be an array of token ids");
    std::vector<int32_t> ids;
    for (const json& v : in["prompt_ids"]) {
      if (!v.is_number_integer()) return bad("\"prompt_ids\" must be an array of token ids");
      ids.push_back(v.get<int32_t>());
    }
    return ids;
  }
  if (!m.tok) return bad("text prompts need the model's tokenizer: " + m.tok_status.message());
  if (in.contains("prompt") && in["prompt"].is_string())
    return m.tok->encode(in["prompt"].get<std::string>(), true);
  if (!in.contains("messages") || !in["messages"].is_array())
    return bad("expected \"prompt_ids\", \"prompt\" or \"messages\"");
  ChatRequest req;
  for (const json& msg : in["messages"]) {
    if (!msg.is_object() || !msg.value("role", json()).is_string() ||
        !msg.value("content", json()).is_string())
      return bad("each message needs string \"role\" and \"content\"");
    req.messages.push_back({msg["role"].get<std::string>(), msg["content"].get<std::string>()});
  }
  return cx.tmpl->encode(*m.tok, req);
}

Result<Request> request_of(const std::string& line, const Context& cx) {
  const json in = json::parse(line, nullptr, false);
  if (in.is_discarded() || !in.is_object()) return bad("not a JSON object");
  Request r;
  GenerateParams& p = r.params;  // the flags' values, then the line's own
  p = cx.g;
  try {
    p.max_tokens = in.value("max_tokens", p.max_tokens);
    p.sampling.temperature = in.value("temperature", p.sampling.temperature);
    p.sampling.seed = in.value("seed", p.sampling.seed);
    if (in.contains("mode")) {
      auto mode = decode_mode_of(in["mode"].get<std::string>(), "\"mode\"");
      if (!mode.is_ok()) return mode.status();
      p.mode = mode.value();
    }
  } catch (const json::exception&) {
    return bad("\"max_tokens\", \"mode\", \"temperature\" or \"seed\" has the wrong type");
  }
  auto ids = prompt_ids_of(in, cx);
  if (!ids.is_ok()) return ids.status();
  r.prompt = std::move(ids).value();
  return r;
}

json result_json(const Loaded& m, const std::vector<int32_t>& out, const RequestEvent& end) {
  std::string text = text_of(m, out);
  if (end.text_end) text.resize(std::min(text.size(), *end.text_end));
  const RequestCounters& c = end.counters;
  return {{"output_ids", out},
          {"text", utf8_lossy(text)},
          {"finish_reason", end.finish_reason},
          {"usage",
           {{"prompt_tokens", c.prompt_tokens},
            {"cached_tokens", c.cached_tokens},
            {"completion_tokens", c.completion_tokens}}},
          {"counters",
           {{"forwards", c.forwards},
            {"prefill_tokens", c.prefill_tokens},
            {"preemptions", c.preemptions},
            {"queue_ms", c.queue_ms},
            {"prefill_ms", c.prefill_ms},
            {"first_token_ms", c.first_token_ms},
            {"total_ms", c.total_ms}}}};
}

// A client: takes the next request, submits it, reads its stream to the end.
void client(Engine& eng, const Loaded& m, std::vector<Result<Request>>& reqs,
            std::vector<json>& results, std::atomic<size_t>& next) {
  for (size_t i; (i = next++) < reqs.size();) {
    json& out = results[i];
    if (!reqs[i].is_ok()) {
      out = {{"error", reqs[i].status().to_string()}};
      continue;
    }
    auto h = eng.submit(std::move(reqs[i]).value());
    if (!h.is_ok()) {
      out = {{"error", h.status().to_string()}};
      continue;
    }
    std::vector<int32_t> toks;
    while (auto e = h.value()->next()) {
      if (e->kind == RequestEvent::Kind::kTokens) {
        toks.insert(toks.end(), e->tokens.begin(), e->tokens.end());
      } else {
        out = result_json(m, toks, *e);
        break;
      }
    }
  }
}

}  // namespace

void add_batch(CLI::App* app, BatchFlags& b) {
  app->add_option("--requests", b.requests, "JSONL request file, - for stdin")
      ->capture_default_str();
  app->add_option("--concurrency", b.concurrency, "requests in flight")->capture_default_str();
  add_engine(app, b.engine, "--max-running");
}

namespace {

Result<std::vector<Result<Request>>> read_requests(const BatchFlags& b, const Context& cx) {
  std::ifstream file;
  if (b.requests != "-" && (file.open(b.requests), !file))
    return Status(ErrorKind::kNotFound, b.requests + ": cannot open");
  std::istream& in = b.requests == "-" ? std::cin : file;
  std::vector<Result<Request>> reqs;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) reqs.push_back(request_of(line, cx));
  return reqs;
}

// Prints the results in input order and the summary; returns how many requests failed.
int64_t report(std::vector<json>& results, const Engine& eng, double wall_s, bool as_json,
               int64_t concurrency) {
  int64_t tokens = 0, errors = 0, prompt = 0, cached = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    json& r = results[i];
    r["index"] = i;
    std::cout << r.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    if (r.contains("error")) {
      ++errors;
      continue;
    }
    tokens += r["usage"]["completion_tokens"].get<int64_t>();
    prompt += r["usage"]["prompt_tokens"].get<int64_t>();
    cached += r["usage"]["cached_tokens"].get<int64_t>();
  }
  const EngineStats s = eng.stats();
  const double tps = wall_s > 0 ? double(tokens) / wall_s : 0.0;
  if (as_json)
    std::cerr << json{{"requests", results.size()},   {"errors", errors},
                      {"completion_tokens", tokens},  {"prompt_tokens", prompt},
                      {"cached_tokens", cached},      {"wall_s", wall_s},
                      {"tokens_per_s", tps},          {"steps", s.steps},
                      {"preemptions", s.preemptions}, {"concurrency", concurrency},
                      {"kv_tokens", eng.kv_tokens()}}
                     .dump()
              << "\n";
  else
    std::fprintf(stderr,
                 "[batch: %zu requests (%lld errors), %lld tokens in %.2f s = %.1f tokens/s, "
                 "%lld steps, %lld preemptions, %lld/%lld prompt tokens cached]\n",
                 results.size(), (long long)errors, (long long)tokens, wall_s, tps,
                 (long long)s.steps, (long long)s.preemptions, (long long)cached,
                 (long long)prompt);
  return errors;
}

}  // namespace

int run_batch(const CommonFlags& f, const GenerateParams& g, const BatchFlags& b) {
  if (b.concurrency < 1) return fail("--concurrency must be >= 1");
  auto l = load(f);
  if (!l.is_ok()) return fail(l.status().to_string());
  Context cx{f, g, l.value(), std::nullopt};
  if (cx.m.tok) {
    cx.tmpl = ChatTemplate::load(f.model_dir);
    if (!cx.tmpl->note().empty()) std::fprintf(stderr, "wedlm: %s\n", cx.tmpl->note().c_str());
  }
  auto reqs = read_requests(b, cx);
  if (!reqs.is_ok()) return fail(reqs.status().to_string());
  CommonFlags spec = f;
  if (Status e = check_engine_flags(b.engine, spec.forward); !e.is_ok()) return fail(e.message());
  auto fw = cx.m.forward(spec);
  if (!fw.is_ok()) return fail(fw.status().message());
  Engine eng(std::move(fw).value(), facts_of(cx.m, f.context), b.engine.config);
  std::vector<json> results(reqs.value().size());
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int64_t c = 0; c < std::min<int64_t>(b.concurrency, int64_t(results.size())); ++c)
    clients.emplace_back([&] { client(eng, cx.m, reqs.value(), results, next); });
  for (std::thread& t : clients) t.join();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report(results, eng, wall_s, f.json, b.concurrency) ? 2 : 0;
}

}  // namespace wedlm::cli
