// What decoding needs of one row of logits, shared by the decoders (decode/sampler) and by the
// forwards that hand back greedy picks instead of whole rows (model/forward.h).
#pragma once

#include <cstdint>
#include <vector>

namespace wedlm {

// Natural-log entropy of softmax(logits[0..n)), in double.
double row_entropy(const float* logits, int64_t n);
// The index of the largest logit other than `banned` (< 0: none banned); ties to the lowest index.
int32_t row_argmax(const float* logits, int64_t n, int64_t banned);

// A greedy decoder's whole use of a logits row: the token it takes and the row's entropy.
struct RowPick {
  int32_t token = -1;
  double entropy = 0;
};

inline RowPick greedy_pick(const float* logits, int64_t n, int64_t banned) {
  return RowPick{row_argmax(logits, n, banned), row_entropy(logits, n)};
}

// picks[r] = greedy_pick of row r of logits [rows, vocab], rows over the CPU thread team.
void greedy_picks(const std::vector<float>& logits, int64_t vocab, int64_t banned,
                  std::vector<RowPick>& picks);

}  // namespace wedlm
