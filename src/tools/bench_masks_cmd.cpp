// wedlm bench-masks: what a constrained token costs the decoder on a real vocabulary. For three
// grammars (a JSON Schema with every kind of value, a tool call, any JSON object) it walks
// random replies (each token uniform among the allowed ones) and times, per token, the allowed
// set (TokenMasks::allowed) and the state's advance: cold on a fresh cache (states computed), then
// warm (the same states again, all cached).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "constrain/json_schema.h"
#include "constrain/tool_grammar.h"
#include "server/constraints.h"
#include "tools/cli.h"

namespace wedlm::cli {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

struct Case {
  std::string name;
  constrain::Grammar grammar;
};

std::vector<Case> cases() {
  const json person = json::parse(R"({"type":"object","properties":{
      "name":{"type":"string","maxLength":24},"age":{"type":"integer","minimum":0,"maximum":120},
      "email":{"type":"string","maxLength":40},"role":{"enum":["admin","user","guest"]},
      "tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":4},
      "score":{"type":"number","minimum":0,"maximum":1}},
      "required":["name","age","email","role","tags","score"],"additionalProperties":false})");
  const json weather = json::parse(R"({"type":"object","properties":{"city":{"type":"string",
      "maxLength":32},"days":{"type":"integer","minimum":1,"maximum":14},"unit":{"enum":["c","f"]}},
      "required":["city","days","unit"]})");
  std::vector<Case> out;
  out.push_back({"json_schema person", constrain::compile_json_schema(person, "person").value()});
  out.push_back(
      {"tool call get_weather",
       constrain::tool_call_grammar({{"get_weather", weather}}, false, {"weather"}).value()});
  out.push_back({"json_object", constrain::any_object_grammar()});
  return out;
}

struct Timing {
  std::vector<double> cold, warm;  // per token: a computed set / a cached one (us)
  int64_t tokens = 0;
};

// Random replies under `masks`; the (state, token) pairs visited, in order, for the warm pass.
// Per token: the allowed set and the advance by the chosen token (the decoder's work), timed
// apart from choosing the token.
std::vector<std::pair<constrain::State, int32_t>> walk(const constrain::TokenMasks& masks,
                                                       const BenchMasksFlags& b, Timing& t) {
  std::mt19937_64 rng(b.seed);
  std::vector<std::pair<constrain::State, int32_t>> visited;
  for (int64_t r = 0; r < b.replies; ++r) {
    constrain::State s = masks.start();
    for (int64_t n = 0; n < b.max_tokens; ++n) {
      const size_t before = masks.cached();
      auto t0 = Clock::now();
      const auto allowed = masks.allowed(s);
      double us = us_since(t0);
      std::vector<int32_t> ids;
      for (int32_t id = 0; id < int32_t(masks.vocabulary().size()); ++id)
        if (allowed->allows(id)) ids.push_back(id);
      const int32_t tok = ids[rng() % ids.size()];
      t0 = Clock::now();
      constrain::State next = masks.advance(s, tok);
      us += us_since(t0);
      (masks.cached() > before ? t.cold : t.warm).push_back(us);
      ++t.tokens;
      visited.emplace_back(std::move(s), tok);
      if (masks.is_stop(tok)) break;
      s = std::move(next);
    }
  }
  return visited;
}

void report(const std::string& name, const Timing& t, double warm_us, size_t cached) {
  fmt::print("| {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {:.1f} |\n", name, t.tokens, cached,
             bench::mean(t.cold), bench::percentile(t.cold, 50), bench::percentile(t.cold, 99),
             warm_us);
}

}  // namespace

void add_bench_masks(CLI::App* app, BenchMasksFlags& b) {
  app->add_option("--tokenizer", b.tokenizer,
                  "a directory with tokenizer.json (Qwen3's by default)")
      ->capture_default_str();
  app->add_option("--replies", b.replies, "random replies per grammar")->capture_default_str();
  app->add_option("--max-tokens", b.max_tokens, "tokens per reply at most")->capture_default_str();
  app->add_option("--seed", b.seed, "of the random replies")->capture_default_str();
}

int run_bench_masks(const BenchMasksFlags& b) {
  auto tok = Tokenizer::load(b.tokenizer + "/tokenizer.json");
  if (!tok.is_ok()) return fmt::print(stderr, "error: {}\n", tok.status().to_string()), 1;
  ModelFacts facts;
  facts.vocab_size = tok.value().size();
  for (const char* end : {"<|im_end|>", "<|endoftext|>"})
    if (const int32_t id = tok.value().added_token_id(end); id >= 0) facts.stop_ids.push_back(id);
  auto t0 = Clock::now();
  auto vocab = server::vocabulary_of(tok.value(), facts);
  fmt::print("vocabulary: {} tokens, indexed in {:.0f} ms\n\n", vocab->size(), us_since(t0) / 1e3);
  fmt::print(
      "| grammar | tokens | states computed | cold mean us | cold p50 us | cold p99 us | "
      "warm mean us |\n|---|---|---|---|---|---|---|\n");
  for (Case& c : cases()) {
    constrain::TokenMasks masks(std::make_shared<const constrain::Grammar>(std::move(c.grammar)),
                                vocab);
    Timing t;
    const auto visited = walk(masks, b, t);
    const auto w0 = Clock::now();
    for (const auto& [s, tok] : visited) {
      const bool ok = masks.allowed(s)->allows(tok) && !masks.advance(s, tok).dead();
      if (!ok) return fmt::print(stderr, "error: a replayed token is not allowed\n"), 1;
    }
    const double warm_us = us_since(w0) / double(std::max<size_t>(visited.size(), 1));
    report(c.name, t, warm_us, masks.cached());
  }
  return 0;
}

}  // namespace wedlm::cli
