#include "model/forward.h"

namespace wedlm {

void Forward::forward_picks(const Batch& batch, int64_t banned, std::vector<RowPick>& picks) {
  std::vector<float> logits;
  forward(batch, logits);
  const int64_t V = config().vocab_size;
  picks.resize(batch.logit_rows.size());
  for (size_t r = 0; r < picks.size(); ++r)
    picks[r] = greedy_pick(logits.data() + r * size_t(V), V, banned);
}

}  // namespace wedlm
