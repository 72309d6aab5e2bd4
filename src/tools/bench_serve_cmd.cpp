// wedlm bench-serve: vLLM benchmark_serving-style load against any OpenAI-compatible server, in
// named scenarios (src/bench/serve_scenarios.h).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>

#include <fmt/core.h>

#include "bench/bench_report.h"
#include "bench/html_report.h"
#include "bench/replica_metrics.h"
#include "bench/serve_scenarios.h"
#include "tools/cli.h"

namespace wedlm::cli {

void add_bench_serve(CLI::App* app, BenchServeFlags& b) {
  app->add_option("--base-url", b.base_url, "server, scheme://host:port")->capture_default_str();
  app->add_option("--endpoint", b.endpoint, "/v1/chat/completions or /v1/completions")
      ->capture_default_str();
  app->add_option("--api-key", b.api_key, "Bearer key (or env OPENAI_API_KEY)");
  app->add_option("--model", b.model,
                  "the model name requests carry (default: the first the server lists)");
  app->add_option("--scenario", b.scenario, "single, batch, multi-turn, stability or smoke")
      ->capture_default_str();
  app->add_option("--num-prompts", b.num_prompts, "requests per run (stability: per pass)")
      ->capture_default_str();
  app->add_option("--max-concurrency", b.concurrency,
                  "batch: comma list of levels; stability: requests in flight")
      ->capture_default_str();
  app->add_option("--request-rate", b.request_rate,
                  "Poisson arrivals per second (inf = all at once)")
      ->capture_default_str();
  app->add_option("--seed", b.seed, "request seeds, lengths and arrivals")->capture_default_str();
  app->add_option("--min-tokens", b.min_tokens,
                  "shortest max_tokens drawn (default: 64, or "
                  "--max-tokens when that is smaller)");
  app->add_option("--max-tokens", b.max_tokens, "longest max_tokens drawn")->capture_default_str();
  app->add_option("--temperature", b.temperature, "sampling temperature")->capture_default_str();
  app->add_option("--decode-mode", b.decode_mode,
                  "wedlm, ar, or wedlm,ar to compare (wedlm serve's extra field)");
  app->add_option("--html", b.html, "write a self-contained HTML report with plots");
  app->add_flag("--ignore-eos", b.ignore_eos, "ask for exactly max_tokens tokens (vLLM's field)");
  app->add_option("--conversations", b.conversations, "multi-turn: conversations")
      ->capture_default_str();
  app->add_option("--turns", b.turns, "multi-turn: turns per conversation")->capture_default_str();
  app->add_option("--session-header", b.session_header,
                  "multi-turn: name each conversation in this header (e.g. X-Session-Id), for a "
                  "router's affinity");
  app->add_option("--replica-metrics", b.replica_metrics,
                  "comma list of replica URLs behind a router: per-replica requests and cached "
                  "tokens from their /metrics");
  app->add_option("--save-result", b.save_result, "write the results as JSON (vLLM's keys)");
  app->add_option("--prompts", b.smoke_file, "smoke: JSONL prompts with expectations")
      ->capture_default_str();
  app->add_flag("--completion-only", b.completion_only,
                "smoke: check only that every request completes well-formed (random weights)");
  app->add_flag("--no-progress", b.no_progress, "no progress bar");
}

namespace {

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The flags as scenario options, checked; the message names the flag.
Result<bench::ScenarioOptions> options_of(BenchServeFlags b) {
  if (b.min_tokens < 0) b.min_tokens = std::min<int64_t>(64, b.max_tokens);
  const auto& names = bench::scenario_names();
  if (std::find(names.begin(), names.end(), b.scenario) == names.end())
    return bad("--scenario must be single, batch, multi-turn, stability or smoke, got " +
               b.scenario);
  if (b.num_prompts < 1 || b.min_tokens < 1 || b.max_tokens < b.min_tokens || b.turns < 1 ||
      b.conversations < 1)
    return bad(
        "--num-prompts, --turns, --conversations and --min-tokens must be >= 1, and "
        "--max-tokens >= --min-tokens");
  if (b.scenario == "smoke")
    if (auto p = bench::smoke_prompts(b.smoke_file); !p.is_ok()) return p.status();
  for (const std::string& url : split_commas(b.replica_metrics))
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      return bad("--replica-metrics: '" + url + "' is not a URL (http://host:port)");
  bench::ScenarioOptions o;
  o.client = {b.base_url, b.endpoint, b.api_key, 600};
  if (const char* env = std::getenv("OPENAI_API_KEY"); o.client.api_key.empty() && env)
    o.client.api_key = env;
  o.model = b.model;
  o.num_prompts = int(b.num_prompts);
  o.concurrency.clear();
  std::stringstream ss(b.concurrency);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    const long c = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || c < 1) return bad("--max-concurrency: '" + item + "' is not >= 1");
    o.concurrency.push_back(int(c));
  }
  if (o.concurrency.empty()) return bad("--max-concurrency is empty");
  o.load.request_rate = b.request_rate;
  o.load.seed = b.seed;
  o.load.progress = !b.no_progress;
  o.min_tokens = int(b.min_tokens), o.max_tokens = int(b.max_tokens);
  o.temperature = b.temperature;
  o.ignore_eos = b.ignore_eos;
  o.conversations = int(b.conversations), o.turns = int(b.turns);
  o.smoke_file = b.smoke_file;
  o.session_header = b.session_header;
  o.check_answers = !b.completion_only;
  if (o.model.empty()) {  // the server's own name for its model
    auto m = bench::first_model(o.client);
    if (!m.is_ok())  // the requests will fail and be counted, with the server's answer
      std::fprintf(stderr, "wedlm: %s; requests name the model 'default'\n",
                   m.status().message().c_str());
    o.model = m.is_ok() ? m.value() : "default";
  }
  return o;
}

using ModeResults = std::vector<std::pair<std::string, nlohmann::ordered_json>>;

// A scenario run with, when replicas are named, what each of them did during it.
bench::ScenarioReport run_measured(const std::string& scenario, const bench::ScenarioOptions& o,
                                   const std::vector<std::string>& replicas) {
  std::vector<bench::ReplicaCounters> before;
  for (const std::string& url : replicas) before.push_back(bench::scrape_replica(url));
  bench::ScenarioReport r = bench::run_scenario(scenario, o);
  if (replicas.empty()) return r;
  std::vector<bench::ReplicaDelta> deltas;
  for (size_t i = 0; i < replicas.size(); ++i)
    deltas.push_back(
        bench::replica_delta(replicas[i], before[i], bench::scrape_replica(replicas[i])));
  r.text += bench::replica_table(deltas);
  r.json["replicas"] = bench::replica_json(deltas);
  return r;
}

// --save-result and --html.
Status write_results(const BenchServeFlags& b, const std::string& model,
                     const ModeResults& results) {
  if (!b.save_result.empty()) {
    nlohmann::ordered_json j = {
        {"scenario", b.scenario},
        {"base_url", b.base_url},
        {"model_id", model},
        {"num_prompts", b.num_prompts},
        {"request_rate", std::isfinite(b.request_rate) ? nlohmann::ordered_json(b.request_rate)
                                                       : nlohmann::ordered_json("inf")},
        {"seed", b.seed},
        {"load_average", bench::load_average()}};  // the client's machine, at the end
    if (results.size() == 1) j["result"] = results[0].second;
    for (const auto& [mode, r] : results)
      if (results.size() > 1) j["results"][mode] = r;
    std::ofstream out(b.save_result);
    if (!(out << j.dump(1) << "\n")) return Status(ErrorKind::kIo, "cannot write " + b.save_result);
  }
  if (!b.html.empty()) {
    std::ofstream out(b.html);
    if (!(out << bench::html_report(b.scenario, results)))
      return Status(ErrorKind::kIo, "cannot write " + b.html);
  }
  return Status::ok();
}

}  // namespace

int run_bench_serve(const BenchServeFlags& b) {
  auto opts = options_of(b);
  if (!opts.is_ok()) return fail(opts.status().message());
  bench::ScenarioOptions& o = opts.value();
  std::vector<std::string> modes = split_commas(b.decode_mode);  // each mode is a run
  if (modes.empty()) modes.push_back("");
  ModeResults results;
  bool ok = true;
  for (const std::string& mode : modes) {
    o.decode_mode = mode;
    if (modes.size() > 1) std::cout << "## decode mode: " << mode << "\n";
    const bench::ScenarioReport r = run_measured(b.scenario, o, split_commas(b.replica_metrics));
    std::cout << r.text << std::flush;
    results.emplace_back(mode.empty() ? "server default" : mode, r.json);
    ok = ok && r.ok;
  }
  if (const auto l = bench::load_average(); l.size() == 3)  // other load skews every figure
    std::cout << fmt::format("load average {:.2f} {:.2f} {:.2f} (this machine, at the end)\n", l[0],
                             l[1], l[2]);
  if (Status s = write_results(b, o.model, results); !s.is_ok()) return fail(s.message());
  return ok ? 0 : 2;
}

}  // namespace wedlm::cli
