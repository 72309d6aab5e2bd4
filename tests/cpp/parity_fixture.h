// Reading the parity fixtures (tests/data/fixtures, ../shared/fixtures): decoding parameters of a
// case, a WeDLM step's fills, and the next-token logprobs a model gives a logprob case. Shared by
// test_parity (the CPU engine, exact) and test_cuda_parity (the device, agreement rates).
// Header-only; includers link wedlm_decode and nlohmann_json.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "decode/generate.h"

namespace wedlm::test {

// The fixture's model facts: its stop ids and mask id, the checkpoint's vocabulary and context.
inline ModelFacts fixture_facts(const nlohmann::json& fx, const ModelConfig& cfg) {
  ModelFacts m = facts_of(cfg);
  m.stop_ids = fx["stop_ids"].get<std::vector<int64_t>>();
  m.mask_id = fx["mask_token_id"];
  return m;
}

// Greedy parameters of fixture case `c` in `mode`; WeDLM cases carry window, penalty, threshold.
inline GenerateParams fixture_params(const nlohmann::json& c, DecodeMode mode) {
  GenerateParams p;
  p.mode = mode;
  p.max_tokens = c["max_tokens"];
  p.sampling.temperature = 0;
  if (mode == DecodeMode::kWeDLM) {
    p.window = c["window"];
    p.penalty = c["penalty"];
    if (c["threshold"].is_null())
      p.threshold.reset();
    else
      p.threshold = c["threshold"].get<double>();
  }
  return p;
}

// A traced WeDLM step's fills: (window slot, token) pairs.
inline std::vector<std::pair<int64_t, int32_t>> fixture_fill(const nlohmann::json& step) {
  std::vector<std::pair<int64_t, int32_t>> fill;
  for (const nlohmann::json& f : step["fill"]) fill.emplace_back(f[0], f[1]);
  return fill;
}

// log p(ids[t + 1] | ids[0..t]) for every t, from one forward of `ids` through `f`.
inline std::vector<double> next_token_logprobs(Forward& f, const std::vector<int32_t>& ids) {
  const int64_t V = f.config().vocab_size;
  StepOutput o;
  next_token_logits(f, ids, o);
  const std::vector<float>& logits = o.logits;
  std::vector<double> out;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const float* r = logits.data() + t * size_t(V);
    double mx = -INFINITY, z = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(r[i]));
    for (int64_t i = 0; i < V; ++i) z += std::exp(double(r[i]) - mx);
    out.push_back(double(r[ids[t + 1]]) - mx - std::log(z));
  }
  return out;
}

}  // namespace wedlm::test
