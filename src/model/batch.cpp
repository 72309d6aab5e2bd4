#include "model/batch.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace wedlm {

void Batch::add(std::span<const int32_t> seg_ids, std::span<const int64_t> seg_pos, int64_t n_kv,
                std::span<const int32_t> table, std::span<const int32_t> seg_logit_rows,
                std::span<const RowRequest> seg_requests) {
  WEDLM_CHECK(seg_pos.size() == seg_ids.size(), "one position per row");
  WEDLM_CHECK(seg_requests.empty() || seg_requests.size() == seg_logit_rows.size(),
              "one request per logit row");
  const int32_t base = int32_t(ids.size());
  for (int32_t r : seg_logit_rows) {
    WEDLM_CHECK(r >= 0 && size_t(r) < seg_ids.size(), "logit row outside its segment");
    logit_rows.push_back(base + r);
  }
  if (seg_requests.empty())
    requests.resize(logit_rows.size());
  else
    requests.insert(requests.end(), seg_requests.begin(), seg_requests.end());
  ids.insert(ids.end(), seg_ids.begin(), seg_ids.end());
  pos.insert(pos.end(), seg_pos.begin(), seg_pos.end());
  segments.push_back({int64_t(seg_ids.size()), n_kv, table});
}

void RowRequest::edit(float* logits, int64_t vocab) const {
  if (edits) edits->apply(logits, vocab);
  if (allowed) mask_logits(logits, vocab, *allowed);
}

void Batch::clear() {
  ids.clear();
  pos.clear();
  segments.clear();
  logit_rows.clear();
  requests.clear();
}

int64_t Batch::n_logits_wanted() const {
  return std::count_if(requests.begin(), requests.end(),
                       [](const RowRequest& q) { return q.wants_logits; });
}

const float* StepOutput::logits_of(size_t r, int64_t vocab) const {
  WEDLM_CHECK(r < logits_index.size() && logits_index[r] >= 0,
              "logits of a row that did not ask for them");
  return logits.data() + size_t(logits_index[r]) * size_t(vocab);
}

void StepOutput::pick_from_logits(const Batch& b, int64_t vocab) {
  const size_t R = b.logit_rows.size(), V = size_t(vocab);
  WEDLM_CHECK(logits.size() == R * V && b.requests.size() == R, "one row of logits per logit row");
  std::vector<RowDraw> draws(R);
  for (size_t r = 0; r < R; ++r) {
    draws[r] = b.requests[r].draw;
    b.requests[r].edit(logits.data() + r * V, vocab);
  }
  pick_rows(logits.data(), vocab, draws, picks);
  logits_index.assign(R, -1);
  size_t kept = 0;  // the rows that asked move forward over those that did not, in order
  for (size_t r = 0; r < R; ++r) {
    if (!b.requests[r].wants_logits) continue;
    if (kept != r) std::memmove(logits.data() + kept * V, logits.data() + r * V, V * sizeof(float));
    logits_index[r] = int32_t(kept++);
  }
  logits.resize(kept * V);
}

}  // namespace wedlm
