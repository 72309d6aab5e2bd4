// Backend-neutral op signatures. Activations are fp32, row-major; weights are MatrixViews in their
// stored dtype. The model is written once against this interface; each backend implements it, and
// every fast implementation is tested against ReferenceOps (reference/reference_ops.h).
// Implementations are stateless and safe to call from one thread at a time per output buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace wedlm {

// One layer's K or V cache: the row of logical slot s lives at
// base + block_table[s / block_size] * block_stride + (s % block_size) * row_stride.
struct KvLayerView {
  float* k = nullptr;
  float* v = nullptr;
  const int32_t* block_table = nullptr;
  int64_t block_size = 0;
  int64_t block_stride = 0;  // floats from one block of this layer to the next
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;

  int64_t row_offset(int64_t slot) const {
    return block_table[slot / block_size] * block_stride +
           (slot % block_size) * n_kv_head * head_dim;
  }
};

// Every row's RoPE angles (NeoX rotate-half over the full head_dim), made once per forward and
// shared by every layer's rope(): the positions and base, and per row cos then sin of
// pos * theta^(-2k / head_dim) for k < head_dim / 2, each angle in double, rounded to fp32 once.
struct RopeAngles {
  void set(const int64_t* pos, int64_t n, int64_t head_dim, double theta);

  const int64_t* pos = nullptr;
  int64_t n = 0, head_dim = 0;
  double theta = 0;
  std::vector<float> cos_sin;  // [n][head_dim]
};

// A backend's own copy of a weight matrix, laid out for its matmul (Ops::prepare_matmul).
class PreparedMatrix {
 public:
  virtual ~PreparedMatrix() = default;
};

// A matmul weight: the stored matrix, and the copy a backend prepared from it, if it made one.
struct MatmulWeight {
  MatrixView view;
  std::shared_ptr<const PreparedMatrix> prepared;
};

// The MLP's gate and up weights, prepared together: a backend may fuse them into one matrix (the
// CPU backend computes silu(gate) * up in its matmul's registers).
struct GatedWeight {
  MatmulWeight gate, up;
  std::shared_ptr<const PreparedMatrix> fused;
};

class Ops {
 public:
  virtual ~Ops() = default;
  virtual const char* name() const = 0;

  // Once per weight, at model load: the backend may keep a copy in its own layout (the CPU
  // backend packs panels of output columns). The default keeps only the view.
  virtual MatmulWeight prepare_matmul(const MatrixView& w) const { return {w, nullptr}; }
  // y[n, w.rows] = x[n, w.cols] . w^T. A weight prepared by another backend, or not at all, is
  // prepared for this call alone.
  virtual void matmul(const float* x, int64_t n, const MatmulWeight& w, float* y) const = 0;
  void matmul(const float* x, int64_t n, const MatrixView& w, float* y) const {
    matmul(x, n, prepare_matmul(w), y);
  }
  // Once per MLP at model load; the default prepares gate and up apart.
  virtual GatedWeight prepare_gated(const MatrixView& gate, const MatrixView& up) const {
    return {prepare_matmul(gate), prepare_matmul(up), nullptr};
  }
  // out[n, gate.rows] = silu(x . gate^T) * (x . up^T). The default: two matmuls and silu_mul.
  virtual void gated_matmul(const float* x, int64_t n, const GatedWeight& w, float* out) const;
  // y[i] = x[i] / sqrt(mean(x[i]^2) + eps) * w, for n rows of width w.cols
  virtual void rms_norm(const float* x, int64_t n, const MatrixView& w, float eps,
                        float* y) const = 0;
  // In place NeoX rotate-half RoPE of x[a.n, n_head, a.head_dim] at the rows' angles.
  virtual void rope(float* x, int64_t n_head, const RopeAngles& a) const = 0;
  // Writes k, v [n, n_kv_head * head_dim] at logical slots start..start+n-1.
  virtual void store_kv(const float* k, const float* v, int64_t n, int64_t start,
                        const KvLayerView& kv) const = 0;
  // out[n, n_head * head_dim]: row r attends to cached slots [0, start + r] (causal in physical
  // order on top of the prefix); q head h reads kv head h / (n_head / n_kv_head).
  virtual void attention(const float* q, int64_t n, int64_t n_head, int64_t start,
                         const KvLayerView& kv, float* out) const = 0;
  // out[i] = silu(gate[i]) * up[i]
  virtual void silu_mul(const float* gate, const float* up, int64_t n, float* out) const = 0;
};

std::unique_ptr<Ops> make_reference_ops();
std::unique_ptr<Ops> make_cpu_ops();

// Threads the CPU backend uses for ops called from this thread. The setting is per calling thread
// (OpenMP's): a thread started later, like the engine's loop, begins at the process default and
// must be given the count its creator chose.
int cpu_threads();
void set_cpu_threads(int n);

}  // namespace wedlm
