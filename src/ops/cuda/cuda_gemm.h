// y[n, m] = x[n, k] . w[m, k]^T on the device through cuBLASLt: bf16 operands, fp32 accumulation,
// bf16 or fp32 output. w is a row-major weight matrix as stored in the checkpoint (out x in).
// One Gemm per stream; it owns the cuBLASLt handle and workspace. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "ops/cuda/cuda_device.h"

namespace wedlm::cuda {

class Gemm {
 public:
  Gemm();
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  void bf16_out(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, bf16_t* y,
                void* stream);
  void f32_out(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, float* y,
               void* stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wedlm::cuda
