// The Qwen2/Qwen3 (WeDLM) transformer forward, written once against Ops (wedlm-spec.md §1.1).
// Rows carry explicit RoPE positions; their K/V are stored at logical slots
// n_cached .. n_cached + T - 1 in row (physical) order *before* attention, and row r attends to
// slots [0, n_cached + r]: the causal mask in physical order on top of the cached prefix (§3.4).
// Logits are computed only for the rows asked for.
// Thread safety: forward() uses scratch buffers of the Model; one call at a time per Model.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/weights.h"
#include "model/kv_cache.h"
#include "ops/ops.h"

namespace wedlm {

class Model {
 public:
  // `ck` and `ops` must outlive the Model.
  Model(const Checkpoint& ck, const Ops& ops);

  const ModelConfig& config() const { return cfg_; }

  // logits: resized to [logit_rows.size(), vocab]. `table` must cover slots < n_cached + T.
  void forward(std::span<const int32_t> ids, std::span<const int64_t> pos, KvCache& cache,
               const std::vector<int32_t>& table, int64_t n_cached,
               std::span<const int32_t> logit_rows, std::vector<float>& logits);

 private:
  struct Layer {
    MatrixView input_norm, q, k, v, q_bias, k_bias, v_bias, q_norm, k_norm, o, post_norm, gate,
        up, down;
  };
  void attention_block(const Layer& w, int64_t l, int64_t T, std::span<const int64_t> pos,
                       KvCache& cache, const std::vector<int32_t>& table, int64_t n_cached);
  void mlp_block(const Layer& w, int64_t T);

  const ModelConfig& cfg_;
  const Ops& ops_;
  MatrixView embed_, final_norm_, lm_head_;
  std::vector<Layer> layers_;
  std::vector<float> h_, x_, q_, k_, v_, att_, gate_, up_, tmp_;  // scratch
};

}  // namespace wedlm
