#include "model/forward.h"

namespace wedlm {

void Forward::forward_picks(const Batch& batch, int64_t banned, std::vector<RowPick>& picks) {
  std::vector<float> logits;
  forward(batch, logits);
  greedy_picks(logits, config().vocab_size, banned, picks);
}

}  // namespace wedlm
