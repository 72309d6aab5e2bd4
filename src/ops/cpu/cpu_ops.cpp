// CPU backend: OpenMP threads over independent outputs, inner loops written to vectorize.
// Each output element is reduced in the same order whatever the number of rows n, so results do not
// depend on batch composition (batch invariance).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/ops.h"

namespace wedlm {
namespace {

// Eight lanes of partial sums over k (in steps of 8), then a fixed combination: every output of
// every op below is reduced in exactly this order, whatever the number of rows (batch invariance).
typedef float v8 __attribute__((vector_size(32)));

inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float finish(v8 s, const float* a, const float* b, int64_t from, int64_t n) {
  float tail = 0;
  for (int64_t i = from; i < n; ++i) tail += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

// e^x for 8 lanes: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial for e^r (relative error
// ~2e-7, like expf), 2^n through the exponent bits. Inputs are clamped to [-87, 88].
inline v8 exp8(v8 x) {
  typedef int32_t i8 __attribute__((vector_size(32)));
  const v8 lo = v8{} - 87.0f, hi = v8{} + 88.0f;
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const v8 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const v8 r = (x - n * 0.693359375f) - n * -2.12194440e-4f;            // ln2 in two parts
  v8 p = v8{} + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const i8 bits = (__builtin_convertvector(n, i8) + 127) << 23;
  v8 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// y[i] = f(x[i]) for a lane-wise f, 8 at a time; the tail goes through a padded vector so every
// element gets the same arithmetic wherever it sits.
template <class F>
inline void map8(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8 v = f(load8(x + i));
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, size_t(n - i) * sizeof(float));
    const v8 v = f(load8(buf));
    std::memcpy(buf, &v, sizeof v);
    std::memcpy(y + i, buf, size_t(n - i) * sizeof(float));
  }
}

inline float dot(const float* a, const float* b, int64_t n) {
  v8 s = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) s += load8(a + i) * load8(b + i);
  return finish(s, a, b, i, n);
}

// y[i][j] for R input rows x[i] and C weight rows w[j] (R, C <= 4): R*C accumulators share each
// load, which is what makes a many-row forward cost less than many one-row forwards.
template <int R, int C>
void tile(const float* const* x, const float* const* w, int64_t k, float* y, int64_t ldy) {
  v8 s[R][C] = {};
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    v8 wv[C];
    for (int c = 0; c < C; ++c) wv[c] = load8(w[c] + i);
    for (int r = 0; r < R; ++r) {
      const v8 xv = load8(x[r] + i);
      for (int c = 0; c < C; ++c) s[r][c] += xv * wv[c];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[r * ldy + c] = finish(s[r][c], x[r], w[c], i, k);
}

template <int C>
void tile_rows(const float* x, int64_t n, int64_t k, const float* const* w, float* y,
               int64_t m) {
  constexpr int kRows = 6;  // 6 x 4 accumulators + 4 weights + 1 input fit in 32 vector registers
  int64_t i = 0;
  const float* xs[kRows];
  for (; i + kRows <= n; i += kRows) {
    for (int r = 0; r < kRows; ++r) xs[r] = x + (i + r) * k;
    tile<kRows, C>(xs, w, k, y + i * m, m);
  }
  const int64_t rest = n - i;  // the last rows in one tile, not one by one
  for (int r = 0; r < rest; ++r) xs[r] = x + (i + r) * k;
  switch (rest) {
    case 5: return tile<5, C>(xs, w, k, y + i * m, m);
    case 4: return tile<4, C>(xs, w, k, y + i * m, m);
    case 3: return tile<3, C>(xs, w, k, y + i * m, m);
    case 2: return tile<2, C>(xs, w, k, y + i * m, m);
    case 1: return tile<1, C>(xs, w, k, y + i * m, m);
    default: return;
  }
}

// Scores of R query rows against C key rows, for runtime R, C in [1, 4].
void tile_any(int64_t R, int64_t C, const float* const* x, const float* const* w, int64_t k,
              float* y, int64_t ldy) {
#define WEDLM_TILE(r, c) \
  if (R == r && C == c) return tile<r, c>(x, w, k, y, ldy);
  WEDLM_TILE(4, 4) WEDLM_TILE(4, 3) WEDLM_TILE(4, 2) WEDLM_TILE(4, 1)
  WEDLM_TILE(3, 4) WEDLM_TILE(3, 3) WEDLM_TILE(3, 2) WEDLM_TILE(3, 1)
  WEDLM_TILE(2, 4) WEDLM_TILE(2, 3) WEDLM_TILE(2, 2) WEDLM_TILE(2, 1)
  WEDLM_TILE(1, 4) WEDLM_TILE(1, 3) WEDLM_TILE(1, 2) WEDLM_TILE(1, 1)
#undef WEDLM_TILE
}

// Causal attention of rows r0..r0+R-1 of q head h: row r sees slots [0, start + r]. Scores come
// from the same tiles as matmul (each row's numbers do not depend on its neighbours); softmax and
// the weighted sum of V run over keys in slot order.
void attend_rows(const float* q, int64_t n_head, int64_t h, int64_t r0, int64_t R, int64_t start,
                 const KvLayerView& kv, float* out, std::vector<float>& scores,
                 std::vector<const float*>& vrows) {
  const int64_t D = kv.head_dim, kvh = h / (n_head / kv.n_kv_head);
  const int64_t n_keys = start + r0 + R;  // of the last row
  const float scale = 1.0f / std::sqrt(float(D));
  scores.assign(static_cast<size_t>(R * n_keys), 0.0f);
  const float* qs[4];
  for (int64_t r = 0; r < R; ++r) qs[r] = q + ((r0 + r) * n_head + h) * D;
  for (int64_t j0 = 0; j0 < n_keys; j0 += 4) {
    const int64_t C = std::min<int64_t>(4, n_keys - j0);
    const float* ks[4];
    for (int64_t c = 0; c < C; ++c) ks[c] = kv.k + kv.row_offset(j0 + c) + kvh * D;
    tile_any(R, C, qs, ks, D, scores.data() + j0, n_keys);
  }
  float sum[4] = {0, 0, 0, 0};
  for (int64_t r = 0; r < R; ++r) {
    float* sr = scores.data() + r * n_keys;
    const int64_t lim = start + r0 + r + 1;
    float mx = -INFINITY;
    for (int64_t j = 0; j < lim; ++j) mx = std::max(mx, sr[j] *= scale);
    map8(sr, sr, lim, [mx](v8 v) { return exp8(v - mx); });
    for (int64_t j = 0; j < lim; ++j) sum[r] += sr[j];
    for (int64_t j = lim; j < n_keys; ++j) sr[j] = 0.0f;  // causal: later slots are invisible
  }
  // out = P V, 8 columns at a time with the R accumulators in registers; every element sums its
  // keys in slot order (zero weights past a row's causal limit add exactly nothing).
  vrows.resize(static_cast<size_t>(n_keys));
  for (int64_t j = 0; j < n_keys; ++j) vrows[size_t(j)] = kv.v + kv.row_offset(j) + kvh * D;
  for (int64_t c0 = 0; c0 < D; c0 += 8) {
    const int64_t w = std::min<int64_t>(8, D - c0);
    v8 acc[4] = {};
    for (int64_t j = 0; j < n_keys; ++j) {
      v8 v = {};
      if (w == 8) v = load8(vrows[size_t(j)] + c0);
      else std::memcpy(&v, vrows[size_t(j)] + c0, size_t(w) * sizeof(float));
      for (int64_t r = 0; r < R; ++r) acc[r] += scores[size_t(r * n_keys + j)] * v;
    }
    for (int64_t r = 0; r < R; ++r) {
      const v8 o = acc[r] / sum[r];
      std::memcpy(out + ((r0 + r) * n_head + h) * D + c0, &o, size_t(w) * sizeof(float));
    }
  }
}

class CpuOps final : public Ops {
 public:
  const char* name() const override { return "cpu"; }

  void matmul(const float* x, int64_t n, const MatrixView& w, float* y) const override {
    const int64_t k = w.cols, m = w.rows;
#pragma omp parallel
    {
      std::vector<float> rows(static_cast<size_t>(4 * k));
#pragma omp for schedule(static)
      for (int64_t j0 = 0; j0 < m; j0 += 4) {
        const int64_t nc = std::min<int64_t>(4, m - j0);
        const float* ws[4];
        for (int64_t c = 0; c < nc; ++c) {
          w.row_to_f32(j0 + c, rows.data() + c * k);
          ws[c] = rows.data() + c * k;
        }
        float* yj = y + j0;
        if (nc == 4) tile_rows<4>(x, n, k, ws, yj, m);
        else if (nc == 3) tile_rows<3>(x, n, k, ws, yj, m);
        else if (nc == 2) tile_rows<2>(x, n, k, ws, yj, m);
        else tile_rows<1>(x, n, k, ws, yj, m);
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
    const int64_t n_blocks = (n + 3) / 4;
#pragma omp parallel
    {
      std::vector<float> scores;
      std::vector<const float*> vrows;
#pragma omp for collapse(2) schedule(dynamic, 1)
      for (int64_t h = 0; h < n_head; ++h)
        for (int64_t b = 0; b < n_blocks; ++b)
          attend_rows(q, n_head, h, b * 4, std::min<int64_t>(4, n - b * 4), start, kv, out,
                      scores, vrows);
    }
  }

  void silu_mul(const float* gate, const float* up, int64_t n, float* out) const override {
    map8(gate, out, n, [](v8 g) { return g / (1.0f + exp8(-g)); });
    for (int64_t i = 0; i < n; ++i) out[i] *= up[i];
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() { return std::make_unique<CpuOps>(); }

}  // namespace wedlm
