#include "decode/sequence_model.h"

#include "core/check.h"

namespace wedlm {

ModelSequence::ModelSequence(Model& model, int64_t capacity, int64_t block_size)
    : model_(model), cache_(model.config(), (capacity + block_size - 1) / block_size, block_size) {}

void ModelSequence::forward(std::span<const int32_t> ids, std::span<const int64_t> pos,
                            int64_t n_cached, std::span<const int32_t> logit_rows,
                            std::vector<float>& logits) {
  const int64_t need = n_cached + static_cast<int64_t>(ids.size());
  WEDLM_CHECK(need <= cache_.n_blocks() * cache_.block_size(), "sequence KV capacity exceeded");
  while (int64_t(table_.size()) * cache_.block_size() < need)  // the pool is this sequence's own
    table_.push_back(int32_t(table_.size()));
  model_.forward(ids, pos, cache_, table_, n_cached, logit_rows, logits);
}

}  // namespace wedlm
