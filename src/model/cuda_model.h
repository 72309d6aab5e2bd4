// The transformer forward on a CUDA device (built only with the CUDA toolkit): the same Batch
// contract as Model (model.h) with the reference engine's precision (wedlm-spec.md §1.1): bf16
// weights uploaded once, bf16 activations and residual stream, fp32 arithmetic inside each kernel,
// GEMMs through cuBLASLt with fp32 accumulation, a paged bf16 KV pool on the device in KvCache's
// layout ([block][layer][block_size][kv_dim]). Logits come back to the host as fp32.
//
// Why a second forward rather than Model over a device Ops: the device path wants bf16
// activations, fused stages (AddRMSNorm, QK-norm + RoPE, gate|up in one GEMM), batch metadata
// uploaded once per forward rather than per op, and (next) one CUDA graph per step; the per-op,
// host-pointer, fp32 Ops contract of the CPU backends fits none of these. Both forwards are
// checked against each other (tests/cpp/test_cuda_model.cpp).
// Thread safety: one forward at a time per CudaModel.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "io/weights.h"
#include "model/forward.h"
#include "model/model.h"

namespace wedlm {

// How the device runs a forward (make_forward.h's ForwardSpec sets them from flags).
struct CudaOptions {
  // A forward of a (rows, logit rows, tiles, groups, split) shape runs eagerly the first time,
  // is captured as a CUDA graph the second time and replayed after.
  bool graphs = false;
  // A segment's whole 64-row tiles attend with the tiled tensor-core kernel (head_dim 64 or
  // 128); its other rows, and every row without it, with the decode kernel, rows grouped.
  bool tiled_attention = false;
  // Every forward runs eagerly with CUDA events around each launch; profile() reports the mean
  // time a forward spends in each operation, by row count.
  bool op_times = false;
};

class CudaModel final : public Forward {
 public:
  // Uploads `ck`'s weights (converted to bf16 where stored otherwise) and allocates a KV pool of
  // `n_blocks` blocks of `block_size` slots. Aborts if no device is present (callers check
  // cuda::device_count() first).
  CudaModel(const Checkpoint& ck, int64_t n_blocks, int64_t block_size,
            const CudaOptions& options = {});
  ~CudaModel() override;
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  const ModelConfig& config() const override;
  const char* device() const override { return "cuda"; }
  int64_t n_blocks() const override;
  int64_t block_size() const override;
  // Whether the kernels take this shape (head_dim, hidden size): a Status naming what they do not.
  static Status supports(const ModelConfig& cfg);

  // Block tables index this model's pool. Picks are made on the device (sample_rows, row_stats'
  // entropies): R x 12 bytes cross to the host, not R x vocab x 4; only the rows that asked for
  // their logits are copied whole.
  void forward(const Batch& batch, StepOutput& out) override;
  // With an observer set, forwards run eagerly (no graphs) and copy each layer's rows back.
  void set_layer_observer(LayerObserver f) override;
  std::string profile() const override;  // CudaOptions::op_times' table

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wedlm
