// Non-owning views of stored weights, shared by io (which finds them) and ops (which read them).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace wedlm {

// A row-major [rows, cols] matrix (or a vector when rows == 1) of F32, BF16 or F16 elements,
// usually inside a memory-mapped checkpoint. The viewed memory must outlive the view.
struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;

  bool empty() const { return data == nullptr; }
  // Element (r, c) widened to fp32.
  float at(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    switch (dtype) {
      case DType::kF32: return static_cast<const float*>(data)[i];
      case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
      case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    }
    return 0.0f;
  }
  // Row r widened to fp32 into out[0..cols).
  void row_to_f32(int64_t r, float* out) const;
};

}  // namespace wedlm
