// The CPU backend's vector toolkit: lane types, loads, the fixed-order horizontal sums, exp and
// the dot-product register tiles of the attention fallback (matmul has its own tiles, in
// cpu_matmul.cpp). Header-only and internal to src/ops/cpu. Every reduction here has one order
// per output, whatever the tile shape or the number of rows, so that results do not depend on
// batch composition (batch invariance).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace wedlm::cpu {

// kLanes lanes of partial sums over k (in steps of kLanes), then a fixed pairwise combination:
// every output of every op below is reduced in exactly this order, whatever the number of rows
// (batch invariance). 16 lanes where the build targets AVX-512 (1.5x the 8-lane FMA rate on the
// development Xeon, docs/PERFORMANCE.md), else 8. Defining WEDLM_CPU_LANES_8 (CMAKE_CXX_FLAGS)
// builds the 8-lane kernels on an AVX-512 machine, to test or time them there.
#if defined(__AVX512F__) && !defined(WEDLM_CPU_LANES_8)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
typedef float vf __attribute__((vector_size(4 * kLanes)));
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(4 * kLanes)));

inline vf loadv(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Four sums at once, each in the same fixed order: 16 lanes -> 8 (low half + high half), then
// neighbouring pairs three times over. Every output below, of any tile shape, is finished by
// sums4, so a number never depends on which tile (or how many rows) it was computed in.
inline v8 halve(vf s) {
#if defined(__AVX512F__) && !defined(WEDLM_CPU_LANES_8)
  return __builtin_shufflevector(s, s, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(s, s, 8, 9, 10, 11, 12, 13, 14, 15);
#else
  return s;
#endif
}

// [a0+a1, a2+a3, b0+b1, b2+b3, a4+a5, a6+a7, b4+b5, b6+b7]
inline v8 pair_sums(v8 a, v8 b) {
  return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) +
         __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

typedef float v4 __attribute__((vector_size(16)));
inline v4 sums4(vf a, vf b, vf c, vf d) {
  const v8 z = pair_sums(pair_sums(halve(a), halve(b)), pair_sums(halve(c), halve(d)));
  return __builtin_shufflevector(z, z, 0, 1, 2, 3) + __builtin_shufflevector(z, z, 4, 5, 6, 7);
}

// Explicit fused multiply-adds: left to contraction, one instantiation fused and another did
// not, and a row's tail then depended on its tile.
inline float tail_dot(const float* a, const float* b, int64_t from, int64_t n) {
  float tail = 0;
  for (int64_t i = from; i < n; ++i) tail = std::fma(a[i], b[i], tail);
  return tail;
}

// e^x lane-wise: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial for e^r (relative error
// ~2e-7, like expf), 2^n through the exponent bits. Inputs are clamped to [-87, 88].
inline vf expv(vf x) {
  const vf lo = vf{} - 87.0f, hi = vf{} + 88.0f;
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const vf n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const vf r = (x - n * 0.693359375f) - n * -2.12194440e-4f;            // ln2 in two parts
  vf p = vf{} + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
  vf scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// SiLU lane-wise: g * sigmoid(g), as g / (1 + e^-g).
inline vf silu(vf g) { return g / (1.0f + expv(-g)); }

// y[i] = f(x[i]) for a lane-wise f, kLanes at a time; the tail goes through a padded vector so
// every element gets the same arithmetic wherever it sits.
template <class F>
inline void mapv(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const vf v = f(loadv(x + i));
    std::memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    float buf[kLanes] = {};
    std::memcpy(buf, x + i, size_t(n - i) * sizeof(float));
    const vf v = f(loadv(buf));
    std::memcpy(buf, &v, sizeof v);
    std::memcpy(y + i, buf, size_t(n - i) * sizeof(float));
  }
}

inline float dot(const float* a, const float* b, int64_t n) {
  vf s = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) s += loadv(a + i) * loadv(b + i);
  return sums4(s, vf{}, vf{}, vf{})[0] + tail_dot(a, b, i, n);
}

// y[i][j] = x[i] . w[j] for R rows x[i] and C rows w[j] (R, C <= 4): R*C accumulators share
// each load.
template <int R, int C>
inline void tile(const float* const* x, const float* const* w, int64_t k, float* y, int64_t ldy) {
  vf s[R][4] = {};  // columns past C stay zero
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    vf wv[C];
    for (int c = 0; c < C; ++c) wv[c] = loadv(w[c] + i);
    for (int r = 0; r < R; ++r) {
      const vf xv = loadv(x[r] + i);
      for (int c = 0; c < C; ++c) s[r][c] += xv * wv[c];
    }
  }
  for (int r = 0; r < R; ++r) {
    const v4 o = sums4(s[r][0], s[r][1], s[r][2], s[r][3]);
    for (int c = 0; c < C; ++c) y[r * ldy + c] = o[c] + tail_dot(x[r], w[c], i, k);
  }
}

// Scores of R query rows against C key rows, for runtime R, C in [1, 4].
inline void tile_any(int64_t R, int64_t C, const float* const* x, const float* const* w, int64_t k,
                     float* y, int64_t ldy) {
#define WEDLM_TILE(r, c) \
  if (R == r && C == c) return tile<r, c>(x, w, k, y, ldy);
  WEDLM_TILE(4, 4)
  WEDLM_TILE(4, 3) WEDLM_TILE(4, 2) WEDLM_TILE(4, 1) WEDLM_TILE(3, 4) WEDLM_TILE(3, 3)
      WEDLM_TILE(3, 2) WEDLM_TILE(3, 1) WEDLM_TILE(2, 4) WEDLM_TILE(2, 3) WEDLM_TILE(2, 2)
          WEDLM_TILE(2, 1) WEDLM_TILE(1, 4) WEDLM_TILE(1, 3) WEDLM_TILE(1, 2) WEDLM_TILE(1, 1)
#undef WEDLM_TILE
}

}  // namespace wedlm::cpu
