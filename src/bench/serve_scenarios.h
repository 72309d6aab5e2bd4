// `wedlm bench-serve` scenarios against an OpenAI-compatible server:
//   single      one request at a time, 64-128-token replies: TTFT and tokens/s as a user sees them;
//   batch       the same load at each concurrency (1, 4, 8): throughput and latency as it grows;
//   multi-turn  conversations that grow turn by turn: per-turn latency and cached prompt tokens
//               (with prefix caching, later turns prefill only their new tokens); each
//               conversation can name itself in a header (`session_header`), as a router's
//               affinity key;
//   stability   N seeded requests, run twice: identical outputs, errors, whether the server still
//               answers afterwards;
//   smoke       prompts with checkable expectations (a JSONL file, prompts/smoke_prompts.jsonl):
//               {"name", "messages", "expect": {"substring" | "regex" | "refusal": true}}; pass or
//               fail per prompt. With `check_answers` off (random weights) only well-formed
//               completion is checked.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/openai_client.h"
#include "bench/serve_run.h"
#include "core/status.h"

namespace wedlm::bench {

struct ScenarioOptions {
  ClientConfig client;
  std::string model = "default";
  int num_prompts = 20;
  std::vector<int> concurrency = {1, 4, 8};
  LoadSpec load;  // request rate, seed, progress bar
  int min_tokens = 64, max_tokens = 128;
  double temperature = 0;
  std::string decode_mode;  // "" = the server's default; "wedlm" | "ar" (wedlm serve)
  bool ignore_eos = false;
  int conversations = 4, turns = 4;
  std::string session_header;  // multi-turn: a header naming each conversation ("" = none)
  std::string smoke_file;     // smoke: the prompts
  bool check_answers = true;  // smoke: check expectations, not only completion
};

struct ScenarioReport {
  std::string text;             // for the terminal
  nlohmann::ordered_json json;  // for --save-result
  bool ok = true;               // every request succeeded (stability: and repeated)
};

ScenarioReport run_scenario(const std::string& name, const ScenarioOptions& o);
// The smoke prompts of a JSONL file; the error names the file and line.
Result<std::vector<nlohmann::json>> smoke_prompts(const std::string& path);
const std::vector<std::string>& scenario_names();

}  // namespace wedlm::bench
