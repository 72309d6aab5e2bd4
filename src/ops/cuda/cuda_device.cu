#include "ops/cuda/cuda_device.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "ops/cuda/cuda_check.h"

namespace wedlm::cuda {

void fail(cudaError_t e, const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: CUDA error %s (%s) in %s\n", file, line, cudaGetErrorName(e),
               cudaGetErrorString(e), what);
  std::abort();
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: clear the sticky error, report none
    return 0;
  }
  return n;
}

std::string device_description(int device) {
  cudaDeviceProp p{};
  WEDLM_CUDA(cudaGetDeviceProperties(&p, device));
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs, %.1f GiB)", p.name, p.major, p.minor,
                p.multiProcessorCount, double(p.totalGlobalMem) / (1024.0 * 1024 * 1024));
  return buf;
}

void memory_info(size_t* free_bytes, size_t* total_bytes) {
  WEDLM_CUDA(cudaMemGetInfo(free_bytes, total_bytes));
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  if (bytes > 0) WEDLM_CUDA(cudaMalloc(&p, bytes));
  return p;
}

void device_free(void* p) { WEDLM_CUDA(cudaFree(p)); }

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) WEDLM_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) WEDLM_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void zero(void* dst, size_t bytes) {
  if (bytes > 0) WEDLM_CUDA(cudaMemset(dst, 0, bytes));
}

void synchronize() { WEDLM_CUDA(cudaDeviceSynchronize()); }

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(e, what, __FILE__, __LINE__);
}

}  // namespace wedlm::cuda
