#include "core/tensor.h"

#include <cstring>

namespace wedlm {

void MatrixView::row_to_f32(int64_t r, float* out) const {
  const int64_t base = r * cols;
  switch (dtype) {
    case DType::kF32: {
      const float* p = static_cast<const float*>(data) + base;
      for (int64_t c = 0; c < cols; ++c) out[c] = p[c];
      return;
    }
    case DType::kBF16: {  // a bf16 is the high half of an fp32: widen and shift, 8 at a time
      typedef uint16_t u16x8 __attribute__((vector_size(16)));
      typedef uint32_t u32x8 __attribute__((vector_size(32)));
      const uint16_t* p = static_cast<const uint16_t*>(data) + base;
      int64_t c = 0;
      for (; c + 8 <= cols; c += 8) {
        u16x8 h;
        std::memcpy(&h, p + c, sizeof h);
        const u32x8 w = __builtin_convertvector(h, u32x8) << 16;
        std::memcpy(out + c, &w, sizeof w);
      }
      for (; c < cols; ++c) out[c] = bf16_to_f32(p[c]);
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
