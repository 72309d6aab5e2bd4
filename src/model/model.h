// The Qwen2/Qwen3 (WeDLM) transformer forward, written once against Ops (wedlm-spec.md §1.1).
// A forward runs a Batch (batch.h: segments of rows, each over its own block table, K/V stored
// before attention, the causal mask in physical order on top of the cached prefix, §3.4). Matmuls
// run over all rows of the batch at once (one read of the weights); every row's numbers are
// independent of the other rows, so a sequence gets the same bits alone or batched. Past the last
// layer's K/V only the rows whose logits are asked for are computed (a WeDLM step's committed rows,
// a prefill's all but the last need their K/V only). Thread safety: forward() uses scratch buffers
// of the Model; one call at a time per Model.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/weights.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/layer_trace.h"
#include "ops/ops.h"

namespace wedlm {

class Model {
 public:
  // `ck` and `ops` must outlive the Model.
  Model(const Checkpoint& ck, const Ops& ops);

  const ModelConfig& config() const { return cfg_; }

  // logits: resized to [batch.logit_rows.size(), vocab]. `observe` (may be null) is called
  // with each layer's output (layer_trace.h).
  void forward(const Batch& batch, KvCache& cache, std::vector<float>& logits,
               const LayerObserver* observe = nullptr);
  // One sequence: a batch of one segment.
  void forward(std::span<const int32_t> ids, std::span<const int64_t> pos, KvCache& cache,
               std::span<const int32_t> table, int64_t n_kv, std::span<const int32_t> logit_rows,
               std::vector<float>& logits);

 private:
  struct Layer {
    MatrixView input_norm, q_bias, k_bias, v_bias, q_norm, k_norm, post_norm;
    MatmulWeight q, k, v, o, down;  // prepared by the Ops at load
    GatedWeight gate_up;
  };
  void fit_scratch(int64_t T, int64_t R);
  void attend(const Layer& w, int64_t l, const Batch& b, KvCache& cache);
  void project_attention(const Layer& w, int64_t T);
  void keep_logit_rows(const Batch& b);
  void mlp_block(const Layer& w, int64_t T);
  void observe_layer(const LayerObserver& f, int64_t l, const Batch& b, int64_t rows);

  const ModelConfig& cfg_;
  const Ops& ops_;
  MatrixView embed_, final_norm_;
  MatmulWeight lm_head_;
  std::vector<Layer> layers_;
  std::vector<float> h_, x_, q_, k_, v_, att_, gate_, tmp_;  // scratch
  RopeAngles rope_;                                          // this forward's rows
  std::vector<int32_t> all_rows_;                            // 0, 1, ... (observers)
  Batch one_;                                                // the single-sequence batch
};

}  // namespace wedlm
