// WEDLM_CUDA(call): a CUDA runtime call that must succeed (internal to src/ops/cuda; needs
// cuda_runtime.h). A failure aborts with the error's name, the call and file:line.
#pragma once

#include <cuda_runtime.h>

namespace wedlm::cuda {

[[noreturn]] void fail(cudaError_t e, const char* what, const char* file, int line);

}  // namespace wedlm::cuda

#define WEDLM_CUDA(call)                                             \
  do {                                                               \
    const cudaError_t wedlm_cuda_e_ = (call);                        \
    if (wedlm_cuda_e_ != cudaSuccess)                                \
      ::wedlm::cuda::fail(wedlm_cuda_e_, #call, __FILE__, __LINE__); \
  } while (0)
