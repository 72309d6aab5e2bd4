#include "core/tensor.h"

namespace wedlm {

void MatrixView::row_to_f32(int64_t r, float* out) const {
  const int64_t base = r * cols;
  switch (dtype) {
    case DType::kF32: {
      const float* p = static_cast<const float*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = p[c];
      return;
    }
    case DType::kBF16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = bf16_to_f32(p[c]);
      return;
    }
    case DType::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = f16_to_f32(p[c]);
      return;
    }
  }
}

}  // namespace wedlm
