// Device helpers shared by the kernel files (nvcc only): bf16 as stored (uint16) to and from fp32
// with the host's rounding (core/dtype.h), and warp reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace wedlm::cuda {

__device__ inline float bf(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }

// Round to nearest even, NaN kept (core/dtype.h f32_to_bf16 on the device).
__device__ inline uint16_t to_bf(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

__device__ inline float round_bf(float f) { return bf(to_bf(f)); }

// Two bf16 packed in one 32-bit word (the lower address in the low half), as fp32.
__device__ inline float2 bf_pair(uint32_t w) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ inline float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace wedlm::cuda
