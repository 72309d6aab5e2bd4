// CPU backend: OpenMP threads over independent outputs, inner loops written to vectorize.
// Each output element is reduced in the same order whatever the number of rows n, so results do not
// depend on batch composition (batch invariance).
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/ops.h"

namespace wedlm {
namespace {

inline float dot(const float* a, const float* b, int64_t n) {
  // Eight independent partial sums: vectorizes without -ffast-math, fixed order for any caller.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

class CpuOps final : public Ops {
 public:
  const char* name() const override { return "cpu"; }

  void matmul(const float* x, int64_t n, const MatrixView& w, float* y) const override {
    const int64_t k = w.cols, m = w.rows;
#pragma omp parallel
    {
      std::vector<float> row(static_cast<size_t>(k));
#pragma omp for schedule(static)
      for (int64_t j = 0; j < m; ++j) {
        w.row_to_f32(j, row.data());
        for (int64_t i = 0; i < n; ++i) y[i * m + j] = dot(x + i * k, row.data(), k);
      }
    }
  }

  void rms_norm(const float* x, int64_t n, const MatrixView& w, float eps,
                float* y) const override {
    const int64_t d = w.cols;
    std::vector<float> wf(static_cast<size_t>(d));
    w.row_to_f32(0, wf.data());
    for (int64_t i = 0; i < n; ++i) {
      const float* xi = x + i * d;
      const float inv = 1.0f / std::sqrt(dot(xi, xi, d) / float(d) + eps);
      for (int64_t c = 0; c < d; ++c) y[i * d + c] = xi[c] * inv * wf[size_t(c)];
    }
  }

  void rope(float* x, int64_t n, int64_t n_head, int64_t head_dim, const int64_t* pos,
            double theta) const override {
    const int64_t half = head_dim / 2;
    std::vector<double> inv(static_cast<size_t>(half));
    for (int64_t k = 0; k < half; ++k) inv[size_t(k)] = 1.0 / std::pow(theta, 2.0 * k / head_dim);
    std::vector<float> cs(static_cast<size_t>(2 * half));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < half; ++k) {
        const double ang = double(pos[i]) * inv[size_t(k)];
        cs[size_t(k)] = float(std::cos(ang));
        cs[size_t(half + k)] = float(std::sin(ang));
      }
      for (int64_t h = 0; h < n_head; ++h) {
        float* v = x + (i * n_head + h) * head_dim;
        for (int64_t k = 0; k < half; ++k) {
          const float a = v[k], b = v[k + half], c = cs[size_t(k)], s = cs[size_t(half + k)];
          v[k] = a * c - b * s;
          v[k + half] = b * c + a * s;
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
    const int64_t D = kv.head_dim, group = n_head / kv.n_kv_head;
    const float scale = 1.0f / std::sqrt(float(D));
#pragma omp parallel
    {
      std::vector<float> s, acc(static_cast<size_t>(D));
#pragma omp for collapse(2) schedule(dynamic, 1)
      for (int64_t r = 0; r < n; ++r)
        for (int64_t h = 0; h < n_head; ++h) {
          const float* qv = q + (r * n_head + h) * D;
          const int64_t kvh = h / group, n_keys = start + r + 1;
          s.resize(static_cast<size_t>(n_keys));
          float mx = -INFINITY;
          for (int64_t j = 0; j < n_keys; ++j) {
            s[size_t(j)] = dot(qv, kv.k + kv.row_offset(j) + kvh * D, D) * scale;
            mx = std::max(mx, s[size_t(j)]);
          }
          float sum = 0;
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t j = 0; j < n_keys; ++j) {
            const float p = std::exp(s[size_t(j)] - mx);
            sum += p;
            const float* vr = kv.v + kv.row_offset(j) + kvh * D;
            for (int64_t c = 0; c < D; ++c) acc[size_t(c)] += p * vr[c];
          }
          for (int64_t c = 0; c < D; ++c) out[(r * n_head + h) * D + c] = acc[size_t(c)] / sum;
        }
    }
  }

  void silu_mul(const float* gate, const float* up, int64_t n, float* out) const override {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() { return std::make_unique<CpuOps>(); }

}  // namespace wedlm
