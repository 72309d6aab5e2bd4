// The CPU backend's matmul: weights packed once into panels of output columns, multiplied as
// outer products (a broadcast input value times a vector of weights). Each output is a single
// fused multiply-add chain over k, in order, started from zero: its bits do not depend on the tile
// it falls in nor on how many rows the call has (batch invariance).
#pragma once

#include <cstdint>
#include <memory>

#include "ops/ops.h"

namespace wedlm::cpu {

// A weight matrix [m, k] as panels of 2 * kLanes output columns, each panel k-major: for every
// k, the panel's 2 * kLanes weights side by side. bf16 weights stay bf16, two to a 32-bit word
// (word i holds column i in its low half and column kLanes + i in its high half, so that a shift
// and a mask widen them exactly); f32 and f16 weights are stored as f32. Columns past m are zero
// up to a whole number of panel groups. A gated matrix packs the MLP's gate and up together: each
// panel holds kLanes columns of the gate (low halves) and the same kLanes columns of up (high
// halves), and its outputs are silu(gate) * up.
class PackedMatrix final : public PreparedMatrix {
 public:
  explicit PackedMatrix(const MatrixView& w);
  PackedMatrix(const MatrixView& gate, const MatrixView& up);

  int64_t rows() const { return rows_; }  // m: outputs
  int64_t cols() const { return cols_; }  // k: inputs
  int64_t panels() const { return panels_; }
  bool is_bf16() const { return bf16_; }
  bool is_gated() const { return gated_; }
  // Panel p: k steps of kLanes words (bf16) or of 2 * kLanes floats.
  const uint32_t* bf16_panel(int64_t p) const;
  const float* f32_panel(int64_t p) const;

 private:
  PackedMatrix(const MatrixView& lo, const MatrixView& hi, bool gated);

  int64_t rows_, cols_, panels_;
  bool bf16_, gated_;
  std::unique_ptr<void, void (*)(void*)> data_;  // 64-byte aligned words or floats
};

// y[n, w.rows] = x[n, w.cols] . w^T over the thread team; gated: silu(x . gate^T) * (x . up^T).
void packed_matmul(const float* x, int64_t n, const PackedMatrix& w, float* y);

}  // namespace wedlm::cpu
