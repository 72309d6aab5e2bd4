// CPU backend: OpenMP threads over independent outputs, inner loops written to vectorize; matmul
// in cpu_matmul.cpp, attention in cpu_attention.cpp.
// Each output element is reduced in the same order whatever the number of rows n, so results do not
// depend on batch composition (batch invariance).
#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "ops/cpu/cpu_attention.h"
#include "ops/cpu/cpu_matmul.h"
#include "ops/cpu/cpu_simd.h"
#include "ops/ops.h"

namespace wedlm {
namespace {

using namespace cpu;  // NOLINT: the vector toolkit of this backend

// Below this many elements RMSNorm and RoPE run on the calling thread: waking the team and moving
// the rows between cores costs more than the work (RMSNorm of 32 x 256, a WeDLM step's rows:
// about 3 us on one thread, 6.5 us on two). SiLU's exp makes its elements dearer: 32 x 768 took
// 11 us on one thread, 9 on two.
constexpr int64_t kParallelElements = 32768;
constexpr int64_t kParallelSiluElements = 4096;

class CpuOps final : public Ops {
 public:
  const char* name() const override { return "cpu"; }

  // Weights are packed once into column panels (cpu_matmul.h); one prepared elsewhere, or not
  // at all, is packed for the call.
  MatmulWeight prepare_matmul(const MatrixView& w) const override {
    return {w, std::make_shared<const PackedMatrix>(w)};
  }

  using Ops::matmul;
  void matmul(const float* x, int64_t n, const MatmulWeight& w, float* y) const override {
    if (const auto* p = dynamic_cast<const PackedMatrix*>(w.prepared.get()))
      return packed_matmul(x, n, *p, y);
    packed_matmul(x, n, PackedMatrix(w.view), y);
  }

  // Gate and up fused into one packed matrix (the separate views stay for a plain matmul).
  GatedWeight prepare_gated(const MatrixView& gate, const MatrixView& up) const override {
    return {{gate, nullptr}, {up, nullptr}, std::make_shared<const PackedMatrix>(gate, up)};
  }

  void gated_matmul(const float* x, int64_t n, const GatedWeight& w, float* out) const override {
    const auto* p = dynamic_cast<const PackedMatrix*>(w.fused.get());
    if (p != nullptr && p->is_gated()) return packed_matmul(x, n, *p, out);
    Ops::gated_matmul(x, n, w, out);
  }

  void rms_norm(const float* x, int64_t n, const MatrixView& w, float eps,
                float* y) const override {
    const int64_t d = w.cols;
    std::vector<float> wf(static_cast<size_t>(d));
    w.row_to_f32(0, wf.data());
#pragma omp parallel for schedule(static) if (n * d >= kParallelElements)
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * d;
      const float inv = 1.0f / std::sqrt(dot(xi, xi, d) / float(d) + eps);
      for (int64_t c = 0; c < d; ++c) y[i * d + c] = xi[c] * inv * wf[size_t(c)];
    }
  }

  void rope(float* x, int64_t n_head, const RopeAngles& a) const override {
    const int64_t d = a.head_dim, half = d / 2;
#pragma omp parallel for schedule(static) if (a.n * n_head * d >= kParallelElements)
    for (int64_t i = 0; i < a.n; ++i) {
      const float* cs = a.cos_sin.data() + i * d;
      for (int64_t h = 0; h < n_head; ++h) {
        float* v = x + (i * n_head + h) * d;
        for (int64_t k = 0; k < half; ++k) {
          const float p = v[k], q = v[k + half], c = cs[k], s = cs[half + k];
          v[k] = p * c - q * s;
          v[k + half] = q * c + p * s;
        }
      }
    }
  }

  void store_kv(const float* k, const float* v, int64_t n, int64_t start,
                const KvLayerView& kv) const override {
    const int64_t d = kv.n_kv_head * kv.head_dim;
    for (int64_t i = 0; i < n; ++i) {
      std::copy(k + i * d, k + (i + 1) * d, kv.k + kv.row_offset(start + i));
      std::copy(v + i * d, v + (i + 1) * d, kv.v + kv.row_offset(start + i));
    }
  }

  void attention(const float* q, int64_t n, int64_t n_head, int64_t start, const KvLayerView& kv,
                 float* out) const override {
    cpu_attention(q, n, n_head, start, kv, out);
  }

  void silu_mul(const float* gate, const float* up, int64_t n, float* out) const override {
    const int64_t chunk = 64 * kLanes;  // whole vectors: each element's arithmetic is the same
#pragma omp parallel for schedule(static) if (n >= kParallelSiluElements)
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
      const int64_t m = std::min(chunk, n - i0);
      mapv(gate + i0, out + i0, m, silu);
      for (int64_t i = i0; i < i0 + m; ++i) out[i] *= up[i];
    }
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() { return std::make_unique<CpuOps>(); }

int cpu_threads() { return omp_get_max_threads(); }

void set_cpu_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

}  // namespace wedlm
