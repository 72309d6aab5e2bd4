#include "bench/serve_scenarios.h"

#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/core.h>
#include <httplib.h>

#include "bench/serve_metrics.h"
#include "bench/stats.h"
#include "core/status.h"
#include "ops/sampling/sampling.h"

namespace wedlm::bench {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

// Instructions of several kinds and lengths (the bundled model's task families among them).
const std::vector<std::string> kPrompts = {
    "Count from 1 to 40.",
    "What is 347 * 6?",
    "Sort these numbers in ascending order: 42, 7, 19, 3, 88.",
    "Reverse the word \"engine\".",
    "Spell the word \"diffusion\".",
    "What is 1234 + 5678?",
    "Write this list backward: red, blue, green, yellow.",
    "Count from 50 to 90.",
    "Convert to uppercase: parallel decoding",
    "What is 905 - 378?",
    "Write a small JSON object with a name and an age.",
    "Repeat the word \"window\" five times.",
    "What is the capital of France?",
    "Count from 100 to 130.",
    "What is 58 * 47?",
    "Sort these words alphabetically: pear, apple, fig, banana."};

json body_of(const ScenarioOptions& o, const json& messages, int max_tokens, uint64_t seed) {
  json b = {{"model", o.model},
            {"max_tokens", max_tokens},
            {"temperature", o.temperature},
            {"seed", seed}};
  if (o.client.endpoint.find("chat") != std::string::npos)
    b["messages"] = messages;
  else
    b["prompt"] = messages.back()["content"];
  if (!o.decode_mode.empty()) b["decode_mode"] = o.decode_mode;
  if (o.ignore_eos) b["ignore_eos"] = true;
  return b;
}

json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

std::vector<json> load_of(const ScenarioOptions& o, int n) {
  Rng rng(o.load.seed);
  std::vector<json> bodies;
  for (int i = 0; i < n; ++i) {
    const int span = std::max(1, o.max_tokens - o.min_tokens + 1);
    const int max_tokens = o.min_tokens + int(rng.next_u64() % uint64_t(span));
    bodies.push_back(body_of(o, user(kPrompts[size_t(i) % kPrompts.size()]), max_tokens,
                             o.load.seed + uint64_t(i)));
  }
  return bodies;
}

std::string failures(const std::vector<RequestOutcome>& outs) {
  std::string s;
  for (const RequestOutcome& r : outs)
    if (!r.ok && s.size() < 2000) s += "  error: " + r.error + "\n";
  return s;
}

ScenarioReport single(const ScenarioOptions& o) {
  LoadSpec spec = o.load;
  spec.max_concurrency = 1;
  const LoadResult r = run_load(o.client, load_of(o, o.num_prompts), spec);
  const ServeMetrics m = serve_metrics(r.outcomes, r.duration_s);
  return {serve_report("single", m) + failures(r.outcomes), serve_json(m, r.outcomes),
          m.failed == 0};
}

ScenarioReport batch(const ScenarioOptions& o) {
  ScenarioReport rep;
  rep.text =
      "| concurrency | requests | failed | req/s | output tok/s | mean TTFT ms | "
      "mean TPOT ms | p99 E2EL ms | tokens/chunk "
      "|\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  rep.json = {{"levels", ojson::array()}};
  for (int c : o.concurrency) {
    LoadSpec spec = o.load;
    spec.max_concurrency = c;
    const LoadResult r = run_load(o.client, load_of(o, o.num_prompts), spec);
    const ServeMetrics m = serve_metrics(r.outcomes, r.duration_s);
    rep.text +=
        fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", c,
                    m.completed, m.failed, m.request_throughput, m.output_throughput, m.ttft.mean,
                    m.tpot.mean, m.e2el.p99, m.tokens_per_chunk);
    ojson level = serve_json(m, r.outcomes);
    level["max_concurrency"] = c;
    rep.json["levels"].push_back(std::move(level));
    rep.text += failures(r.outcomes);
    rep.ok = rep.ok && m.failed == 0;
  }
  return rep;
}

// One conversation: `turns` user messages, each sent with the whole history so far.
std::vector<RequestOutcome> conversation(const ScenarioOptions& o, int k) {
  json messages = json::array();
  std::vector<RequestOutcome> outs;
  HeaderList headers;
  if (!o.session_header.empty())
    headers.emplace_back(o.session_header, fmt::format("bench-{}-{}", o.load.seed, k));
  for (int t = 0; t < o.turns; ++t) {
    messages.push_back(
        {{"role", "user"}, {"content", kPrompts[size_t(k + 3 * t) % kPrompts.size()]}});
    RequestOutcome r = stream_request(
        o.client, body_of(o, messages, o.max_tokens, o.load.seed + uint64_t(k)), headers);
    messages.push_back({{"role", "assistant"}, {"content", r.text}});
    outs.push_back(std::move(r));
  }
  return outs;
}

// The prompt tokens and cached prompt tokens of the successful requests of turns [from, to).
struct TurnTotals {
  double prompt = 0, cached = 0;
  double share() const { return prompt > 0 ? cached / prompt : 0; }
};

TurnTotals totals(const std::vector<std::vector<RequestOutcome>>& convs, int from, int to) {
  TurnTotals t;
  for (const auto& c : convs)
    for (int i = from; i < to; ++i) {
      const RequestOutcome& r = c[size_t(i)];
      if (!r.ok) continue;
      t.prompt += double(r.prompt_tokens);
      t.cached += double(r.cached_tokens);
    }
  return t;
}

ScenarioReport multi_turn(const ScenarioOptions& o) {
  std::vector<std::vector<RequestOutcome>> convs(size_t(o.conversations));
  std::vector<std::thread> threads;
  for (int k = 0; k < o.conversations; ++k)
    threads.emplace_back([&, k] { convs[size_t(k)] = conversation(o, k); });
  for (std::thread& t : threads) t.join();
  ScenarioReport rep;
  rep.text =
      "| turn | requests | failed | mean prompt tokens | mean cached tokens | cached % | "
      "mean TTFT ms | mean E2EL ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  rep.json = {{"conversations", o.conversations}, {"turns", ojson::array()}};
  int failed_total = 0;
  for (int t = 0; t < o.turns; ++t) {
    std::vector<double> prompt, cached, ttft, e2el;
    int failed = 0;
    for (const auto& c : convs) {
      const RequestOutcome& r = c[size_t(t)];
      if (!r.ok) {
        ++failed;
        rep.text += "  error: " + r.error + "\n";
        continue;
      }
      prompt.push_back(double(r.prompt_tokens)), cached.push_back(double(r.cached_tokens));
      ttft.push_back(r.ttft_ms), e2el.push_back(r.e2e_ms);
    }
    const double hit = mean(prompt) > 0 ? 100 * mean(cached) / mean(prompt) : 0;
    rep.text +=
        fmt::format("| {} | {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} |\n", t + 1,
                    convs.size(), failed, mean(prompt), mean(cached), hit, mean(ttft), mean(e2el));
    rep.json["turns"].push_back({{"turn", t + 1},
                                 {"failed", failed},
                                 {"mean_prompt_tokens", mean(prompt)},
                                 {"mean_cached_tokens", mean(cached)},
                                 {"mean_ttft_ms", mean(ttft)},
                                 {"mean_e2el_ms", mean(e2el)}});
    failed_total += failed;
  }
  const TurnTotals all = totals(convs, 0, o.turns), later = totals(convs, 1, o.turns);
  rep.text += fmt::format(
      "cached share of prompt tokens: {:.1f}% of {:.0f} (turns 2+: {:.1f}% of {:.0f}); "
      "failed requests: {}\n",
      100 * all.share(), all.prompt, 100 * later.share(), later.prompt, failed_total);
  rep.json["failed"] = failed_total;
  rep.json["prompt_tokens"] = all.prompt;
  rep.json["cached_tokens"] = all.cached;
  rep.json["cached_share"] = all.share();
  rep.json["cached_share_after_first_turn"] = later.share();
  rep.ok = failed_total == 0;
  return rep;
}

bool server_answers(const ClientConfig& c) {
  httplib::Client cli(c.base_url);
  cli.set_read_timeout(10, 0);
  httplib::Headers h;
  if (!c.api_key.empty()) h.emplace("Authorization", "Bearer " + c.api_key);
  const auto r = cli.Get("/v1/models", h);
  return r && r->status == 200;
}

ScenarioReport stability(const ScenarioOptions& o) {
  LoadSpec spec = o.load;
  spec.max_concurrency = o.concurrency.empty() ? 8 : o.concurrency.back();
  ScenarioOptions seeded = o;
  if (seeded.temperature == 0) seeded.temperature = 0.8;  // seeds must matter
  const std::vector<json> bodies = load_of(seeded, o.num_prompts);
  const LoadResult a = run_load(o.client, bodies, spec), b = run_load(o.client, bodies, spec);
  int identical = 0, errors = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    errors += !a.outcomes[i].ok + !b.outcomes[i].ok;
    identical += a.outcomes[i].ok && b.outcomes[i].ok && a.outcomes[i].text == b.outcomes[i].text;
  }
  const bool alive = server_answers(o.client);
  ScenarioReport rep;
  rep.text =
      fmt::format(
          "stability: {} seeded requests (temperature {}), run twice at concurrency {}\n"
          "{:<40}{}/{}\n{:<40}{}\n{:<40}{}\n",
          bodies.size(), seeded.temperature, spec.max_concurrency, "Identical outputs:", identical,
          bodies.size(), "Errors:", errors, "Server answering afterwards:", alive ? "yes" : "NO") +
      failures(a.outcomes) + failures(b.outcomes);
  rep.json = {{"requests", bodies.size()},
              {"identical", identical},
              {"errors", errors},
              {"server_alive", alive}};
  rep.ok = errors == 0 && identical == int(bodies.size()) && alive;
  return rep;
}

// Whether a reply meets a smoke expectation; the reason when it does not.
std::string unmet(const json& expect, const std::string& text) {
  if (expect.contains("substring"))
    return text.find(expect["substring"].get<std::string>()) != std::string::npos
               ? ""
               : "missing " + expect["substring"].dump();
  if (expect.contains("regex"))
    return std::regex_search(text, std::regex(expect["regex"].get<std::string>()))
               ? ""
               : "no match for " + expect["regex"].dump();
  static const std::regex kRefusal(
      R"((I'm sorry|I am sorry|I can't|I cannot|I won't|I will not|can't help|cannot help|unable to help))",
      std::regex::icase);
  return std::regex_search(text, kRefusal) ? "" : "not a refusal";
}

ScenarioReport smoke(const ScenarioOptions& o) {
  ScenarioReport rep;
  auto prompts = smoke_prompts(o.smoke_file);
  if (!prompts.is_ok())
    return {prompts.status().message() + "\n", {{"error", prompts.status().message()}}, false};
  std::vector<json> bodies;
  for (const json& p : prompts.value())
    bodies.push_back(body_of(o, p["messages"], o.max_tokens, o.load.seed));
  LoadSpec spec = o.load;
  spec.max_concurrency = o.concurrency.empty() ? 4 : o.concurrency.front();
  const LoadResult r = run_load(o.client, bodies, spec);
  rep.text = "| prompt | result | detail |\n|---|---|---|\n";
  rep.json = {{"prompts", ojson::array()}};
  int passed = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const RequestOutcome& out = r.outcomes[i];
    const json& p = prompts.value()[i];
    std::string why = !out.ok                     ? out.error
                      : out.finish_reason.empty() ? "the stream ended without a finish reason"
                      : o.check_answers           ? unmet(p["expect"], out.text)
                                                  : "";
    passed += why.empty();
    rep.text += fmt::format("| {} | {} | {} |\n", p["name"].get<std::string>(),
                            why.empty() ? "pass" : "FAIL", why.empty() ? "" : why.substr(0, 120));
    rep.json["prompts"].push_back(
        {{"name", p["name"]}, {"passed", why.empty()}, {"detail", why}, {"reply", out.text}});
  }
  rep.text += fmt::format("smoke: {}/{} passed{}\n", passed, bodies.size(),
                          o.check_answers ? "" : " (completion only: answers not checked)");
  rep.json["passed"] = passed;
  rep.json["total"] = bodies.size();
  rep.ok = passed == int(bodies.size());
  return rep;
}

}  // namespace

Result<std::vector<nlohmann::json>> smoke_prompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(ErrorKind::kNotFound, path + ": cannot open");
  std::vector<json> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    const bool ok = j.is_object() && j.value("messages", json()).is_array() &&
                    j.value("expect", json()).is_object() && j.value("name", json()).is_string();
    bool valid_regex = true;
    if (ok && j["expect"].contains("regex")) {
      try {
        std::regex(j["expect"]["regex"].get<std::string>());
      } catch (...) {
        valid_regex = false;
      }
    }
    if (!ok || !valid_regex)
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("{}:{}: expected {{\"name\", \"messages\", \"expect\": "
                                "{{\"substring\" | \"regex\" | \"refusal\"}}}} with a valid regex",
                                path, n));
    out.push_back(std::move(j));
  }
  return out;
}

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> names = {"single", "batch", "multi-turn", "stability",
                                                 "smoke"};
  return names;
}

ScenarioReport run_scenario(const std::string& name, const ScenarioOptions& o) {
  if (name == "single") return single(o);
  if (name == "batch") return batch(o);
  if (name == "multi-turn") return multi_turn(o);
  if (name == "smoke") return smoke(o);
  return stability(o);
}

}  // namespace wedlm::bench
