#include "ops/cpu/cpu_matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "ops/cpu/cpu_simd.h"

namespace wedlm::cpu {
namespace {

constexpr int64_t kPanelCols = 2 * kLanes;
constexpr int64_t kPanelGroup = 4;  // panels are padded to a multiple of the widest tile

// Rows and panels per tile: R * 2P accumulators, 2P widened weights and one broadcast input must
// fit the vector registers (32 with AVX-512, 16 without). Few rows take more panels, so that
// enough independent chains hide the multiply-add latency.
#if defined(__AVX512F__)
constexpr int kMaxRows = 12;
constexpr int panels_for(int64_t rows) { return rows <= 2 ? 4 : rows <= 6 ? 2 : 1; }
#else
constexpr int kMaxRows = 6;
constexpr int panels_for(int64_t rows) { return rows <= 2 ? 2 : 1; }
#endif

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef uint32_t vu __attribute__((vector_size(4 * kLanes)));

// One k step of a panel as two vectors: columns [0, kLanes) and [kLanes, 2 kLanes).
inline void load_step(const uint32_t* p, vf& lo, vf& hi) {
  vu u;
  std::memcpy(&u, p, sizeof u);
  const vu a = u << 16, b = u & 0xffff0000u;  // a bf16 is the high half of its fp32
  std::memcpy(&lo, &a, sizeof lo);
  std::memcpy(&hi, &b, sizeof hi);
}

inline void load_step(const float* p, vf& lo, vf& hi) {
  lo = loadv(p);
  hi = loadv(p + kLanes);
}

template <class E>
constexpr int64_t kStep = std::is_same_v<E, uint32_t> ? kLanes : kPanelCols;

// Output columns of a panel: its 2 kLanes, or in a gated matrix kLanes of silu(gate) * up.
template <bool Gated>
constexpr int64_t kOutCols = Gated ? kLanes : kPanelCols;

// y[r][c] for R rows of x (row stride k) and the output columns of P panels from w (panel stride
// `stride` elements); `cols` of them are stored (the rest are padding).
template <int R, int P, class E, bool Gated>
void panel_tile(const float* x, int64_t k, const E* w, int64_t stride, float* y, int64_t ldy,
                int64_t cols) {
  vf s[R][2 * P] = {};
  for (int64_t kk = 0; kk < k; ++kk) {
    vf wv[2 * P];
    for (int p = 0; p < P; ++p) load_step(w + p * stride + kk * kStep<E>, wv[2 * p], wv[2 * p + 1]);
    for (int r = 0; r < R; ++r) {
      const vf xb = x[r * k + kk] - vf{};  // x - 0 is x: a broadcast load
      for (int c = 0; c < 2 * P; ++c) s[r][c] += xb * wv[c];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 2 * P; c += Gated ? 2 : 1) {
      const int64_t at = Gated ? c / 2 * kLanes : c * kLanes;
      const int64_t valid = std::clamp<int64_t>(cols - at, 0, kLanes);
      const vf out = Gated ? silu(s[r][c]) * s[r][c + 1] : s[r][c];
      std::memcpy(y + r * ldy + at, &out, size_t(valid) * sizeof(float));
    }
}

// panel_tile<rows, P> for runtime rows and P, instantiating only the shapes that fit.
template <class E, bool Gated, int R = 1>
void run_tile(int64_t rows, int P, const float* x, int64_t k, const E* w, int64_t stride, float* y,
              int64_t ldy, int64_t cols) {
  if constexpr (R <= kMaxRows) {
    if (rows != R) return run_tile<E, Gated, R + 1>(rows, P, x, k, w, stride, y, ldy, cols);
    if constexpr (panels_for(R) >= 4)
      if (P == 4) return panel_tile<R, 4, E, Gated>(x, k, w, stride, y, ldy, cols);
    if constexpr (panels_for(R) >= 2)
      if (P == 2) return panel_tile<R, 2, E, Gated>(x, k, w, stride, y, ldy, cols);
    return panel_tile<R, 1, E, Gated>(x, k, w, stride, y, ldy, cols);
  }
}

template <class E, bool Gated>
void matmul_panels(const float* x, int64_t n, const PackedMatrix& w, const E* first, float* y) {
  const int64_t k = w.cols(), m = w.rows(), stride = k * kStep<E>;
  constexpr int64_t out_cols = kOutCols<Gated>;
  // Row tiles of near-equal height (30 rows: 10 10 10, not 12 12 6), each against P panels
  const int64_t n_tiles = ceil_div(n, kMaxRows), base = n / n_tiles, extra = n % n_tiles;
  const int P = panels_for(base + (extra > 0 ? 1 : 0));
  const int64_t groups = ceil_div(ceil_div(m, out_cols), P), items = n_tiles * groups;
  // Consecutive items share a panel group: a thread reuses its weights from cache across tiles
#pragma omp parallel for schedule(static) if (items > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t g = it / n_tiles, t = it % n_tiles;
    const int64_t i0 = t * base + std::min(t, extra), rows = base + (t < extra ? 1 : 0);
    const int64_t c0 = g * P * out_cols;
    run_tile<E, Gated>(rows, P, x + i0 * k, k, first + g * P * stride, stride, y + i0 * m + c0, m,
                       m - c0);
  }
}

// Where a panel's two halves come from: kLanes rows of `lo` from lo_row (the panel's first
// columns) and kLanes rows of `hi` from hi_row; rows past a matrix's end are zero.
struct PanelSource {
  const MatrixView& lo;
  int64_t lo_row;
  const MatrixView& hi;
  int64_t hi_row;
};

// Word c of each k step: the lo half's column c in its low 16 bits, the hi half's in its high. In
// blocks of k, so that the block's words (kLanes x 64) and source runs stay in L1.
void pack_bf16(const PanelSource& s, int64_t k, uint32_t* dst) {
  constexpr int64_t kBlock = 64;
  static const uint16_t zeros[kBlock] = {};
  const uint16_t* rows[2 * kLanes];  // lo rows, then hi rows; null past a matrix's end
  for (int64_t c = 0; c < kLanes; ++c) {
    const int64_t a = s.lo_row + c, b = s.hi_row + c;
    rows[c] = a < s.lo.rows ? static_cast<const uint16_t*>(s.lo.data) + a * k : nullptr;
    rows[kLanes + c] = b < s.hi.rows ? static_cast<const uint16_t*>(s.hi.data) + b * k : nullptr;
  }
  for (int64_t k0 = 0; k0 < k; k0 += kBlock) {
    const int64_t kn = std::min(kBlock, k - k0);
    for (int64_t c = 0; c < kLanes; ++c) {
      const uint16_t* a = rows[c] ? rows[c] + k0 : zeros;
      const uint16_t* b = rows[kLanes + c] ? rows[kLanes + c] + k0 : zeros;
      uint32_t* out = dst + k0 * kLanes + c;
      for (int64_t kk = 0; kk < kn; ++kk) out[kk * kLanes] = a[kk] | uint32_t(b[kk]) << 16;
    }
  }
}

void pack_f32(const PanelSource& s, int64_t k, float* dst) {
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t c = 0; c < kPanelCols; ++c) {
    const MatrixView& w = c < kLanes ? s.lo : s.hi;
    const int64_t r = c < kLanes ? s.lo_row + c : s.hi_row + c - kLanes;
    if (r < w.rows)
      w.row_to_f32(r, row.data());
    else
      std::fill(row.begin(), row.end(), 0.0f);
    for (int64_t kk = 0; kk < k; ++kk) dst[kk * kPanelCols + c] = row[size_t(kk)];
  }
}

// f(p) for every panel, on plain threads for a large matrix. Not OpenMP: packing runs where the
// model loads, often not the thread that runs the forwards, and a second OpenMP team in the
// process makes libgomp's waiting threads sleep (futex) between regions instead of spinning:
// every forward got 3-5x slower that way.
template <class F>
void for_panels(int64_t panels, int64_t elements, F f) {
  const int64_t n = std::min<int64_t>(elements >= (int64_t(1) << 20) ? cpu_threads() : 1, panels);
  std::vector<std::thread> team;
  for (int64_t t = 1; t < n; ++t)
    team.emplace_back([&, t] {
      for (int64_t p = t; p < panels; p += n) f(p);
    });
  for (int64_t p = 0; p < panels; p += n) f(p);
  for (std::thread& th : team) th.join();
}

}  // namespace

PackedMatrix::PackedMatrix(const MatrixView& w) : PackedMatrix(w, w, false) {}

PackedMatrix::PackedMatrix(const MatrixView& gate, const MatrixView& up)
    : PackedMatrix(gate, up, true) {}

// Plain: panel p holds columns 32p .. 32p + 31 of `lo` (= hi). Gated: columns 16p .. 16p + 15 of
// the gate (lo) and of up (hi).
PackedMatrix::PackedMatrix(const MatrixView& lo, const MatrixView& hi, bool gated)
    : rows_(lo.rows),
      cols_(lo.cols),
      panels_(ceil_div(ceil_div(lo.rows, gated ? kLanes : kPanelCols), kPanelGroup) * kPanelGroup),
      bf16_(lo.dtype == DType::kBF16 && hi.dtype == DType::kBF16),
      gated_(gated),
      data_(nullptr, std::free) {
  WEDLM_CHECK(lo.data != nullptr && lo.rows > 0 && lo.cols > 0, "matmul weight is empty");
  WEDLM_CHECK(hi.rows == lo.rows && hi.cols == lo.cols, "gate and up shapes differ");
  const int64_t per_panel = cols_ * kPanelCols * (bf16_ ? 2 : 4);  // bytes
  data_.reset(std::aligned_alloc(64, size_t(ceil_div(panels_ * per_panel, 64) * 64)));
  WEDLM_CHECK(data_ != nullptr, "out of memory packing a weight matrix");
  auto* base = static_cast<char*>(data_.get());
  for_panels(panels_, lo.rows * lo.cols, [&](int64_t p) {
    const int64_t first = p * (gated ? kLanes : kPanelCols);
    const PanelSource src{lo, first, hi, gated ? first : first + kLanes};
    if (bf16_)
      pack_bf16(src, cols_, reinterpret_cast<uint32_t*>(base + p * per_panel));
    else
      pack_f32(src, cols_, reinterpret_cast<float*>(base + p * per_panel));
  });
}

const uint32_t* PackedMatrix::bf16_panel(int64_t p) const {
  return static_cast<const uint32_t*>(data_.get()) + p * cols_ * kLanes;
}

const float* PackedMatrix::f32_panel(int64_t p) const {
  return static_cast<const float*>(data_.get()) + p * cols_ * kPanelCols;
}

void packed_matmul(const float* x, int64_t n, const PackedMatrix& w, float* y) {
  if (n <= 0) return;
  if (w.is_gated()) {
    if (w.is_bf16())
      matmul_panels<uint32_t, true>(x, n, w, w.bf16_panel(0), y);
    else
      matmul_panels<float, true>(x, n, w, w.f32_panel(0), y);
  } else {
    if (w.is_bf16())
      matmul_panels<uint32_t, false>(x, n, w, w.bf16_panel(0), y);
    else
      matmul_panels<float, false>(x, n, w, w.f32_panel(0), y);
  }
}

}  // namespace wedlm::cpu
