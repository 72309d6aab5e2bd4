#include "model/forward.h"

namespace wedlm {

void Forward::forward_picks(const Batch& batch, std::span<const RowDraw> draws,
                            std::vector<RowPick>& picks) {
  std::vector<float> logits;
  forward(batch, logits);
  pick_rows(logits, config().vocab_size, draws, picks);
}

}  // namespace wedlm
