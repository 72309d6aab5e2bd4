// Scalar, obviously-correct implementations: the twin every fast op is tested against.
// Double accumulation everywhere, no threads, no tricks.
#include <cmath>
#include <vector>

#include "ops/ops.h"

namespace wedlm {
namespace {

class ReferenceOps final : public Ops {
 public:
  const char* name() const override { return "reference"; }

  using Ops::matmul;
  void matmul(const float* x, int64_t n, const MatmulWeight& mw, float* y) const override {
    const MatrixView& w = mw.view;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < w.rows; ++j) {
        double acc = 0;
        for (int64_t c = 0; c < w.cols; ++c) acc += double(x[i * w.cols + c]) * w.at(j, c);
        y[i * w.rows + j] = static_cast<float>(acc);
      }
  }

  void rms_norm(const float* x, int64_t n, const MatrixView& w, float eps,
                float* y) const override {
    const int64_t d = w.cols;
    for (int64_t i = 0; i < n; ++i) {
      double ss = 0;
      for (int64_t c = 0; c < d; ++c) ss += double(x[i * d + c]) * x[i * d + c];
      const double inv = 1.0 / std::sqrt(ss / double(d) + eps);
      for (int64_t c = 0; c < d; ++c) y[i * d + c] = float(x[i * d + c] * inv * w.at(0, c));
    }
  }

  // Angles of its own, from the positions (the CPU backend reads a.cos_sin).
  void rope(float* x, int64_t n_head, const RopeAngles& a) const override {
    const int64_t head_dim = a.head_dim, half = head_dim / 2;
    const int64_t* pos = a.pos;
    const double theta = a.theta;
    for (int64_t i = 0; i < a.n; ++i)
      for (int64_t h = 0; h < n_head; ++h) {
        float* v = x + (i * n_head + h) * head_dim;
        for (int64_t k = 0; k < half; ++k) {
          const double ang = double(pos[i]) / std::pow(theta, double(2 * k) / double(head_dim));
          const double c = std::cos(ang), s = std::sin(ang), a = v[k], b = v[k + half];
          v[k] = float(a * c - b * s);
          v[k + half] = float(b * c + a * s);
        }
      }
  }

  void store_kv(const float* k, const float* v, int64_t n, int64_t start,
                const KvLayerView& kv) const override {
    const int64_t d = kv.n_kv_head * kv.head_dim;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < d; ++c) {
        kv.k[kv.row_offset(start + i) + c] = k[i * d + c];
        kv.v[kv.row_offset(start + i) + c] = v[i * d + c];
      }
  }

  void attention(const float* q, int64_t n, int64_t n_head, int64_t start, const KvLayerView& kv,
                 float* out) const override {
    const int64_t D = kv.head_dim, group = n_head / kv.n_kv_head;
    const double scale = 1.0 / std::sqrt(double(D));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t h = 0; h < n_head; ++h) {
        const float* qv = q + (r * n_head + h) * D;
        const int64_t kvh = h / group, n_keys = start + r + 1;
        std::vector<double> s(static_cast<size_t>(n_keys));
        double mx = -INFINITY;
        for (int64_t j = 0; j < n_keys; ++j) {
          const float* kr = kv.k + kv.row_offset(j) + kvh * D;
          double dot = 0;
          for (int64_t c = 0; c < D; ++c) dot += double(qv[c]) * kr[c];
          s[size_t(j)] = dot * scale;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (int64_t c = 0; c < D; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < n_keys; ++j)
            acc += s[size_t(j)] * kv.v[kv.row_offset(j) + kvh * D + c];
          out[(r * n_head + h) * D + c] = float(acc / sum);
        }
      }
  }

  void silu_mul(const float* gate, const float* up, int64_t n, float* out) const override {
    for (int64_t i = 0; i < n; ++i)
      out[i] = float(double(gate[i]) / (1.0 + std::exp(-double(gate[i]))) * up[i]);
  }
};

}  // namespace

std::unique_ptr<Ops> make_reference_ops() { return std::make_unique<ReferenceOps>(); }

}  // namespace wedlm
