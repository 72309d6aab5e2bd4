// Token choice and entropy for one logits row (wedlm-spec.md §3.5).
// Greedy when temperature == 0 (argmax, ties to the lowest id; top-k/top-p ignored). Otherwise, in
// this order: top-k on the raw logits (keeps every logit >= the k-th largest), top-p on what is
// left (softmax at temperature 1, sorted descending, keeps tokens until the cumulative probability
// exceeds top_p, including the crossing one), then softmax(logits / temperature) and one draw.
// The mask token (mask_id >= 0) is never chosen. Entropy always uses the raw, unfiltered row.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/logit_rows.h"  // row_entropy, row_argmax, RowDraw

namespace wedlm {

struct SamplingParams {
  double temperature = 0.2;
  int64_t top_k = 0;      // 0 = off
  double top_p = 1.0;     // 1 = off
  uint64_t seed = 0;
};

// Portable RNG (splitmix64): the same seed gives the same draws on every platform and run. It is
// counter-based: the k-th draw is a function of (seed, k) alone, so a decoder hands a step's
// uniforms to whoever samples its rows (RowDraw::u) without keeping a generator's state.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next_u64();
  double uniform();  // [0, 1) with 53 random bits
  // What uniform() returns at its k-th call (from 0) on a fresh Rng(seed).
  static double uniform_at(uint64_t seed, uint64_t k);

 private:
  uint64_t s_;
};

// The reference rule, by sorting the candidates: `u` in [0, 1) is the draw. The decoders use
// sample_row (ops/logit_rows.h), the same rule in O(n); tests hold the two together.
int32_t choose_token(const float* logits, int64_t n, const SamplingParams& p, double u,
                     int64_t mask_id);

// The RowDraw of a row decoded under `p` with the uniform `u`.
inline RowDraw row_draw(const SamplingParams& p, int64_t mask_id, double u) {
  return RowDraw{p.temperature, p.top_k, p.top_p, mask_id, u};
}

struct TopLogprob {
  int32_t id;
  float logprob;
};
struct TokenLogprob {
  float logprob = 0;
  std::vector<TopLogprob> top;  // the n_top likeliest tokens, descending (fewer if fewer can be drawn)
};

// The log-probability of `token` under the distribution that choose_token() draws from with `p`
// (softmax(logits / temperature) over the top-k/top-p candidates), and the n_top likeliest tokens
// of that distribution. Greedy decoding draws from no distribution: its log-probabilities are the
// model's own (softmax of the raw logits). The mask token is never a candidate.
TokenLogprob token_logprob(const float* logits, int64_t n, const SamplingParams& p,
                           int64_t mask_id, int32_t token, int64_t n_top);

}  // namespace wedlm
