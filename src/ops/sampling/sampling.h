// Choosing a token from a row of logits (wedlm-spec.md §3.5), in one place: the rule's reference
// (choose_token, by sorting), what decodes (sample_row, the same rule in O(vocab) by the
// arithmetic of sample_rule.h, which the device kernel shares), the entropies and picks a forward
// hands back, log-probabilities, and the counter-based RNG that makes a step's uniforms.
//
// The rule: greedy when temperature == 0 (argmax, ties to the lowest id; top-k/top-p ignored).
// Otherwise, in this order: top-k on the raw logits (keeps every logit >= the k-th largest),
// top-p on what is left (softmax at temperature 1, sorted descending, keeps tokens until the
// cumulative probability exceeds top_p, including the crossing one), then
// softmax(logits / temperature) and one draw. The banned id (the mask) is never chosen. Entropy
// always uses the raw, unfiltered row.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/token_set.h"
#include "ops/sampling/row_draw.h"

namespace wedlm {

// A request's sampling parameters.
struct SamplingParams {
  double temperature = 0.2;
  int64_t top_k = 0;   // 0 = off
  double top_p = 1.0;  // 1 = off
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

// The RowDraw of a row decoded under `p` with the uniform `u`.
inline RowDraw row_draw(const SamplingParams& p, int64_t mask_id, double u) {
  return RowDraw{p.temperature, p.top_k, p.top_p, mask_id, u};
}

// Natural-log entropy of softmax(logits[0..n)), in double.
double row_entropy(const float* logits, int64_t n);
// The index of the largest logit other than `banned` (< 0: none banned) and NaN; ties to the
// lowest index. A row with no such logit gives its first index other than `banned` (-1 if none).
int32_t row_argmax(const float* logits, int64_t n, int64_t banned);

// The reference rule, by sorting the candidates: `u` in [0, 1) is the draw.
int32_t choose_token(const float* logits, int64_t n, const SamplingParams& p, double u,
                     int64_t mask_id);
// The token of a row under `d`, in O(n) (sample_rule.h): the choice choose_token makes by
// sorting, barring a running sum that lands within rounding of a boundary. Tests hold the two
// together.
int32_t sample_row(const float* logits, int64_t n, const RowDraw& d);

// What a request changes in a row's logits before anything is computed of it: HF's (and vLLM's)
// repetition penalty on the tokens seen (a positive logit divided by it, a negative one
// multiplied), then additive terms (OpenAI's presence and frequency penalties, logit_bias), then
// the banned ids.
struct LogitEdits {
  double repetition = 1.0;
  std::vector<int32_t> seen;                   // ids the repetition penalty applies to
  std::vector<std::pair<int32_t, float>> add;  // (id, term); ids may repeat: terms add up
  std::vector<int32_t> banned;                 // never drawn (kMaskedLogit)
  void apply(float* logits, int64_t n) const;
};

// Sets every logit outside `allowed` to kMaskedLogit: finite, so entropies stay defined, and
// far enough down that softmax gives those tokens exactly 0 at any temperature.
inline constexpr float kMaskedLogit = -1e30f;
void mask_logits(float* logits, int64_t n, const TokenSet& allowed);

// What a decoder takes of each logit row: the token drawn and the row's entropy.
struct RowPick {
  int32_t token = -1;
  double entropy = 0;
};

inline RowPick pick_row(const float* logits, int64_t n, const RowDraw& d) {
  return RowPick{sample_row(logits, n, d), row_entropy(logits, n)};
}

// picks[r] = pick_row of row r of logits [draws.size(), vocab] under draws[r], rows over the CPU
// thread team.
void pick_rows(const float* logits, int64_t vocab, std::span<const RowDraw> draws,
               std::vector<RowPick>& picks);

struct TopLogprob {
  int32_t id;
  float logprob;
};
struct TokenLogprob {
  float logprob = 0;
  std::vector<TopLogprob>
      top;  // the n_top likeliest tokens, descending (fewer if fewer can be drawn)
};

// The log-probability of `token` under the distribution that choose_token() draws from with `p`
// (softmax(logits / temperature) over the top-k/top-p candidates), and the n_top likeliest tokens
// of that distribution. Greedy decoding draws from no distribution: its log-probabilities are the
// model's own (softmax of the raw logits). The mask token is never a candidate.
TokenLogprob token_logprob(const float* logits, int64_t n, const SamplingParams& p, int64_t mask_id,
                           int32_t token, int64_t n_top);

}  // namespace wedlm
