// `wedlm bench`: llama-bench-style timing of the engine in process. A case is one test (prefill
// of a prompt, or generation of tokens) under one setting (mode, window, threshold, parallel
// sequences, threads), run through the serving engine: a warm-up, then `reps` timed repetitions.
//   pp N: `parallel` prompts of N random tokens prefilled in one forward; tokens/s = prompt rows
//         per second of that forward (WeDLM's first window rides along, as in serving).
//   tg N: `parallel` requests generating N tokens each (end-of-text ignored) after a short
//         prompt; tokens/s = generated tokens per second from the first committed token to the
//         last.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "decode/generate_params.h"
#include "model/forward.h"
#include "model/model.h"

namespace wedlm::bench {

struct BenchCase {
  std::string test = "tg";  // "pp" | "tg"
  int64_t n_tokens = 128;
  DecodeMode mode = DecodeMode::kWeDLM;
  int64_t window = 16;
  std::optional<double> threshold = 0.4;
  int64_t parallel = 1;
  int threads = 0;  // 0: all cores
};

struct CaseResult {
  BenchCase c;
  std::vector<double> tokens_per_s;  // one per repetition
  double forwards_per_s = 0;         // engine forwards per second (means over repetitions)
  double tokens_per_forward = 0;     // generated tokens per decode forward of a request
  double ttft_ms = 0;                // submission to first committed token
};

struct BenchInput {
  Model* model = nullptr;          // the CPU model: each case's engine runs it
  Forward* forward = nullptr;      // when set (a device), every case runs on it instead
  int64_t block_size = 16;         // the CPU engines' KV blocks
  std::vector<int32_t> tg_prompt;  // tg prompt (empty: tg_depth random tokens); e.g. a chat message
  int64_t tg_depth = 8;            // random tg prompt length: the context generation starts at
  uint64_t seed = 0;               // random prompts, and each request's sampling seed
  int reps = 5;
  SamplingParams sampling = {0.0, 0, 1.0, 0};  // greedy unless set; the seed is per request

  const ModelConfig& config() const { return forward ? forward->config() : model->config(); }
};

// Runs one case; an error names what does not fit (context, vocabulary).
Result<CaseResult> run_case(const BenchInput& in, const BenchCase& c);
std::string label(const BenchCase& c);  // "pp512", "tg128"

}  // namespace wedlm::bench
