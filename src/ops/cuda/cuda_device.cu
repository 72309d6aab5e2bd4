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

int multiprocessor_count() {
  int device = 0, n = 0;
  WEDLM_CUDA(cudaGetDevice(&device));
  WEDLM_CUDA(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n;
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

void* create_stream() {
  cudaStream_t s = nullptr;
  WEDLM_CUDA(cudaStreamCreate(&s));
  return s;
}

void destroy_stream(void* stream) {
  WEDLM_CUDA(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
}

void stream_sync(void* stream) {
  WEDLM_CUDA(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}

void copy_to_device_async(void* dst, const void* src, size_t bytes, void* stream) {
  if (bytes > 0)
    WEDLM_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice,
                               static_cast<cudaStream_t>(stream)));
}

Graph::~Graph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
  if (graph_ != nullptr) cudaGraphDestroy(static_cast<cudaGraph_t>(graph_));
}

void Graph::begin(void* stream) {
  WEDLM_CUDA(
      cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal));
}

void Graph::end(void* stream) {
  cudaGraph_t g = nullptr;
  WEDLM_CUDA(cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &g));
  graph_ = g;
  cudaGraphExec_t e = nullptr;
  WEDLM_CUDA(cudaGraphInstantiate(&e, g, 0));
  exec_ = e;
}

void Graph::launch(void* stream) {
  WEDLM_CUDA(
      cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), static_cast<cudaStream_t>(stream)));
}

void synchronize() { WEDLM_CUDA(cudaDeviceSynchronize()); }

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(e, what, __FILE__, __LINE__);
}

EventTimer::~EventTimer() {
  for (void* e : events_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(e));
}

void EventTimer::mark(void* stream, int label) {
  if (used_ == events_.size()) {
    cudaEvent_t e = nullptr;
    WEDLM_CUDA(cudaEventCreate(&e));
    events_.push_back(e);
    labels_.push_back(-1);
  }
  labels_[used_] = label;
  WEDLM_CUDA(
      cudaEventRecord(static_cast<cudaEvent_t>(events_[used_]), static_cast<cudaStream_t>(stream)));
  ++used_;
}

void EventTimer::collect(std::vector<double>& totals) {
  for (size_t i = 0; i + 1 < used_; ++i) {
    if (labels_[i] < 0) continue;
    float ms = 0;
    WEDLM_CUDA(cudaEventSynchronize(static_cast<cudaEvent_t>(events_[i + 1])));
    WEDLM_CUDA(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(events_[i]),
                                    static_cast<cudaEvent_t>(events_[i + 1])));
    if (totals.size() <= size_t(labels_[i])) totals.resize(size_t(labels_[i]) + 1, 0.0);
    totals[size_t(labels_[i])] += ms;
  }
  used_ = 0;
}

}  // namespace wedlm::cuda
