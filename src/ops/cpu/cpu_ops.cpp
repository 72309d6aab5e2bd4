// CPU backend: OpenMP threads over independent outputs, inner loops written to vectorize.
// Each output element is reduced in the same order whatever the number of rows n, so results do not
// depend on batch composition (batch invariance).
#include <algorithm>
#include <cmath>
#include <vector>

#include <omp.h>

#include "ops/cpu/cpu_attention.h"
#include "ops/cpu/cpu_simd.h"
#include "ops/ops.h"

namespace wedlm {
namespace {

using namespace cpu;  // NOLINT: the vector toolkit of this backend

constexpr int64_t kRows = 6;  // 6 x 4 accumulators + 4 weights + 1 input in 32 registers

// Rows in ceil(n / 6) tiles of near-equal height (32 rows: 6 6 5 5 5 5, not 6 6 6 6 6 2): a short
// tile shares each weight load among few rows.
template <int C, class W>
void tile_rows(const float* x, int64_t n, int64_t k, const W* const* w, float* y, int64_t m) {
  const int64_t n_tiles = (n + kRows - 1) / kRows;
  const float* xs[kRows];
  for (int64_t t = 0, i = 0; t < n_tiles; ++t) {
    const int64_t rows = n / n_tiles + (t < n % n_tiles ? 1 : 0);
    for (int64_t r = 0; r < rows; ++r) xs[r] = x + (i + r) * k;
    float* yi = y + i * m;
    switch (rows) {
      case 6: tile<6, C, W>(xs, w, k, yi, m); break;
      case 5: tile<5, C, W>(xs, w, k, yi, m); break;
      case 4: tile<4, C, W>(xs, w, k, yi, m); break;
      case 3: tile<3, C, W>(xs, w, k, yi, m); break;
      case 2: tile<2, C, W>(xs, w, k, yi, m); break;
      default: tile<1, C, W>(xs, w, k, yi, m); break;
    }
    i += rows;
  }
}

template <class W>
void chunk(const float* x, int64_t n, int64_t k, int64_t nc, const W* const* ws, float* y,
           int64_t m) {
  if (nc == 4) tile_rows<4>(x, n, k, ws, y, m);
  else if (nc == 3) tile_rows<3>(x, n, k, ws, y, m);
  else if (nc == 2) tile_rows<2>(x, n, k, ws, y, m);
  else tile_rows<1>(x, n, k, ws, y, m);
}

// Below this many elements an elementwise op runs on the calling thread: waking the team costs
// more than the work (an AR step's single row).
constexpr int64_t kParallelElements = 4096;

class CpuOps final : public Ops {
 public:
  const char* name() const override { return "cpu"; }

  // Chunks of 4 weight rows over the thread team. With at most one row tile (an AR step) bf16
  // rows are widened in the tile's registers; with more, once per chunk into a buffer that every
  // row tile reads. Both give the same numbers (tile<>), so a row's result does not depend on n.
  void matmul(const float* x, int64_t n, const MatrixView& w, float* y) const override {
    const int64_t k = w.cols, m = w.rows;
    const bool in_registers = w.dtype == DType::kBF16 && n <= kRows;
#pragma omp parallel
    {
      std::vector<float> rows(in_registers ? 0 : static_cast<size_t>(4 * k));
#pragma omp for schedule(static)
      for (int64_t j0 = 0; j0 < m; j0 += 4) {
        const int64_t nc = std::min<int64_t>(4, m - j0);
        if (in_registers) {
          const uint16_t* ws[4];
          for (int64_t c = 0; c < nc; ++c)
            ws[c] = static_cast<const uint16_t*>(w.data) + (j0 + c) * k;
          chunk(x, n, k, nc, ws, y + j0, m);
        } else {
          const float* ws[4];
          for (int64_t c = 0; c < nc; ++c) {
            w.row_to_f32(j0 + c, rows.data() + c * k);
            ws[c] = rows.data() + c * k;
          }
          chunk(x, n, k, nc, ws, y + j0, m);
        }
      }
    }
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

  void rope(float* x, int64_t n, int64_t n_head, int64_t head_dim, const int64_t* pos,
            double theta) const override {
    const int64_t half = head_dim / 2;
    std::vector<double> inv(static_cast<size_t>(half));
    for (int64_t k = 0; k < half; ++k) inv[size_t(k)] = 1.0 / std::pow(theta, 2.0 * k / head_dim);
#pragma omp parallel if (n * n_head * head_dim >= kParallelElements)
    {
      std::vector<float> cs(static_cast<size_t>(2 * half));
#pragma omp for schedule(static)
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
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
      const int64_t m = std::min(chunk, n - i0);
      mapv(gate + i0, out + i0, m, [](vf g) { return g / (1.0f + expv(-g)); });
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
