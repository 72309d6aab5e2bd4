#include "decode/sequence_model.h"

#include "core/check.h"

namespace wedlm {

ModelSequence::ModelSequence(Model& model, int64_t capacity, int64_t block_size)
    : forward_(std::make_unique<CpuForward>(model, (capacity + block_size - 1) / block_size,
                                            block_size)) {}

ModelSequence::ModelSequence(std::unique_ptr<Forward> forward) : forward_(std::move(forward)) {}

void SequenceModel::forward_picks(std::span<const int32_t> ids, std::span<const int64_t> pos,
                                  int64_t n_cached, std::span<const int32_t> logit_rows,
                                  std::span<const RowDraw> draws,
                                  std::vector<RowPick>& picks) {
  std::vector<float> logits;
  forward(ids, pos, n_cached, logit_rows, logits);
  pick_rows(logits, vocab_size(), draws, picks);
}

void ModelSequence::forward(std::span<const int32_t> ids, std::span<const int64_t> pos,
                            int64_t n_cached, std::span<const int32_t> logit_rows,
                            std::vector<float>& logits) {
  batch_of(ids, pos, n_cached, logit_rows);
  forward_->forward(batch_, logits);
}

void ModelSequence::forward_picks(std::span<const int32_t> ids, std::span<const int64_t> pos,
                                  int64_t n_cached, std::span<const int32_t> logit_rows,
                                  std::span<const RowDraw> draws,
                                  std::vector<RowPick>& picks) {
  batch_of(ids, pos, n_cached, logit_rows);
  forward_->forward_picks(batch_, draws, picks);
}

void ModelSequence::batch_of(std::span<const int32_t> ids, std::span<const int64_t> pos,
                             int64_t n_cached, std::span<const int32_t> logit_rows) {
  const int64_t need = n_cached + static_cast<int64_t>(ids.size());
  const int64_t bs = forward_->block_size();
  WEDLM_CHECK(need <= forward_->n_blocks() * bs, "sequence KV capacity exceeded");
  while (int64_t(table_.size()) * bs < need)  // the pool is this sequence's own
    table_.push_back(int32_t(table_.size()));
  batch_.clear();
  batch_.add(ids, pos, n_cached, table_, logit_rows);
}

}  // namespace wedlm
