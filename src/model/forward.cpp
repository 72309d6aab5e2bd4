#include "model/forward.h"

#include <algorithm>

namespace wedlm {

int64_t default_kv_tokens(const ModelConfig& cfg) { return 4 * cfg.max_position_embeddings; }

int64_t kv_blocks_for(int64_t kv_tokens, int64_t block_size) {
  return std::max<int64_t>(1, (kv_tokens + block_size - 1) / block_size);
}

CpuForward::CpuForward(Model& model, int64_t n_blocks, int64_t block_size, int threads)
    : model_(model),
      cache_(model.config(), n_blocks, block_size),
      threads_(threads > 0 ? threads : cpu_threads()) {}

void CpuForward::forward(const Batch& batch, StepOutput& out) {
  // OpenMP's thread count is per calling thread: a serving engine's loop thread gets this one's
  set_cpu_threads(threads_);
  model_.forward(batch, cache_, out.logits, observer_ ? &observer_ : nullptr);
  out.pick_from_logits(batch, model_.config().vocab_size);
}

void next_token_logits(Forward& f, std::span<const int32_t> ids, StepOutput& out) {
  const size_t n = ids.size();
  std::vector<int64_t> pos(n);
  std::vector<int32_t> rows(n > 0 ? n - 1 : 0), table;
  for (size_t i = 0; i < n; ++i) pos[i] = int64_t(i);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int32_t(i);
  for (int64_t b = 0; b * f.block_size() < int64_t(n); ++b) table.push_back(int32_t(b));
  const std::vector<RowRequest> whole(rows.size(), RowRequest{{}, true});
  Batch batch;
  batch.add(ids, pos, 0, table, rows, whole);
  f.forward(batch, out);
}

}  // namespace wedlm
