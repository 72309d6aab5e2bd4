#include "decode/step_batch.h"

#include "core/check.h"

namespace wedlm {

void StepBatch::clear() {
  batch_.clear();
  added_.clear();
}

bool StepBatch::add(SequenceDecoder& d, int64_t begin, int64_t end, std::span<const int32_t> table,
                    bool step) {
  if (step && !d.plan(plan_)) step = false;
  segment_rows(d.tokens(), begin, end, step ? &plan_ : nullptr, rows_);
  requests_.clear();
  if (step) d.row_requests(requests_);
  WEDLM_CHECK(requests_.size() == rows_.logit_rows.size(), "one request per logit row");
  added_.push_back({batch_.logit_rows.size(), step});
  if (!rows_.ids.empty())
    batch_.add(rows_.ids, rows_.pos, begin, table, rows_.logit_rows, requests_);
  return step;
}

void StepBatch::run(Forward& f) {
  vocab_ = f.config().vocab_size;
  if (!empty()) f.forward(batch_, out_);
}

int64_t StepBatch::apply(size_t i, SequenceDecoder& d) const {
  WEDLM_CHECK(i < added_.size(), "apply() of a sequence that was not added");
  if (!added_[i].step) return 0;
  return d.apply(out_, added_[i].first_logit_row, vocab_);
}

}  // namespace wedlm
