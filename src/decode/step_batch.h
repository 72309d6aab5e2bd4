// The step path both drivers share (generate() for one sequence, the serving engine for many):
// each sequence's rows go into one Batch, with what its decoder asks of each logit row; one
// Forward::forward runs it; each decoder then takes its rows of the StepOutput.
//
//   StepBatch step;
//   step.add(decoder, n_kv, n_kv_needed, table, /*step=*/true);  // for each sequence
//   step.run(forward);
//   step.apply(i, decoder);                                      // for each, in add() order
//
// Not thread-safe: one owner (the engine loop, a generate() call).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decode/sequence_decoder.h"
#include "model/forward.h"

namespace wedlm {

class StepBatch {
 public:
  void clear();
  // Sequence `d`'s share of the forward: its prefill rows tokens()[begin, end) into slots begin..
  // (no logits) and, when `step`, the rows of its next step right after them. `table` covers the
  // slots and must outlive run(). plan() may find no slot left: it then finishes the sequence
  // with "length" and only the prefill rows go in. Returns whether the step's rows went in.
  bool add(SequenceDecoder& d, int64_t begin, int64_t end, std::span<const int32_t> table,
           bool step);
  bool empty() const { return batch_.ids.empty(); }
  const Batch& batch() const { return batch_; }
  // The forward of every added row.
  void run(Forward& f);
  // The i-th add()'s step applied to `d` (the same decoder); the tokens it committed (0 without
  // a step).
  int64_t apply(size_t i, SequenceDecoder& d) const;

 private:
  struct Added {
    size_t first_logit_row = 0;
    bool step = false;
  };
  Batch batch_;
  StepOutput out_;
  std::vector<Added> added_;
  int64_t vocab_ = 0;
  StepRows plan_, rows_;              // scratch
  std::vector<RowRequest> requests_;  // scratch
};

}  // namespace wedlm
