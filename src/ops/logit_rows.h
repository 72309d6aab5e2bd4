// What decoding needs of one row of logits, shared by the decoders (decode/sampler) and by the
// forwards that hand back picks instead of whole rows (model/forward.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace wedlm {

// Natural-log entropy of softmax(logits[0..n)), in double.
double row_entropy(const float* logits, int64_t n);
// The index of the largest logit other than `banned` (< 0: none banned) and NaN; ties to the
// lowest index. A row with no such logit gives its first index other than `banned` (-1 if none).
int32_t row_argmax(const float* logits, int64_t n, int64_t banned);

// How one row's token is chosen: decode/sampler.h's rule with its parameters, the id that is
// never chosen (the mask) and the draw's uniform, made by the request's counter-based RNG.
struct RowDraw {
  double temperature = 0;  // <= 0: greedy (row_argmax); the rest but `banned` unused
  int64_t top_k = 0;       // 0 = off
  double top_p = 1.0;      // 1 = off
  int64_t banned = -1;
  double u = 0;            // in [0, 1)
};

// The token of a row under `d`, in O(n) (sample_rule.h): the choice decode/sampler.h's
// choose_token makes by sorting, barring a running sum that lands within rounding of a boundary.
int32_t sample_row(const float* logits, int64_t n, const RowDraw& d);

// A decoder's whole use of a logits row when it wants no log-probabilities: the token it takes
// and the row's entropy.
struct RowPick {
  int32_t token = -1;
  double entropy = 0;
};

inline RowPick pick_row(const float* logits, int64_t n, const RowDraw& d) {
  return RowPick{sample_row(logits, n, d), row_entropy(logits, n)};
}

// picks[r] = pick_row of row r of logits [draws.size(), vocab] under draws[r], rows over the CPU
// thread team.
void pick_rows(const std::vector<float>& logits, int64_t vocab, std::span<const RowDraw> draws,
               std::vector<RowPick>& picks);

}  // namespace wedlm
