// The CUDA runtime seen from plain C++ (no CUDA headers here, so callers need no nvcc): device
// discovery that is safe on machines without a driver or a GPU, checked allocation and copies, and
// an owning device buffer. Every CUDA call is checked; a failure is a broken invariant (abort with
// the call, file and line), except in discovery, which reports "no device" instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wedlm::cuda {

using bf16_t = uint16_t;  // a bfloat16 as stored: the high half of an fp32 (core/dtype.h converts)

// Number of usable CUDA devices: 0 when there is no driver, no device, or the runtime fails.
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)"; requires device_count() > i.
std::string device_description(int device);
// Streaming multiprocessors of the current device (132 on an H100 SXM).
int multiprocessor_count();
// Free and total bytes of the current device's memory.
void memory_info(size_t* free_bytes, size_t* total_bytes);

void* device_malloc(size_t bytes);  // never null for bytes > 0
void device_free(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void zero(void* dst, size_t bytes);
// Streams: a blocking stream of its own (ordered with the legacy default stream), copies queued
// on it (from pageable memory: the source may be freed on return), waiting for it.
void* create_stream();
void destroy_stream(void* stream);
void stream_sync(void* stream);
void copy_to_device_async(void* dst, const void* src, size_t bytes, void* stream);

// A CUDA graph: the launches queued on `stream` between begin() and end(), captured once and
// replayed by launch(). Kernel arguments (pointers, sizes) are baked in at capture: the buffers
// they name must stay allocated, and only their contents may change between replays. Move-only.
class Graph {
 public:
  Graph() = default;
  Graph(Graph&& o) noexcept : graph_(o.graph_), exec_(o.exec_) { o.graph_ = o.exec_ = nullptr; }
  Graph& operator=(Graph&&) = delete;
  Graph(const Graph&) = delete;
  ~Graph();
  void begin(void* stream);
  void end(void* stream);
  void launch(void* stream);

 private:
  void* graph_ = nullptr;
  void* exec_ = nullptr;
};
// Device time between marks on one stream (CUDA events), for profiling a forward by operation.
class EventTimer {
 public:
  EventTimer() = default;
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  ~EventTimer();
  // Records an event on `stream`: the time from it to the next mark goes to `label` (< 0: to
  // nothing; the last mark of a run of work).
  void mark(void* stream, int label);
  // Once the stream has finished the marked work: adds each interval's milliseconds to
  // totals[label] (totals grown as needed), then forgets the marks (the events are reused).
  void collect(std::vector<double>& totals);

 private:
  std::vector<void*> events_;
  std::vector<int> labels_;
  size_t used_ = 0;
};

void synchronize();  // waits for the device and checks for errors of earlier launches
// Checks the launch that precedes it (a kernel's configuration errors); `what` names the kernel.
void check_launch(const char* what);

// An owning array of T in device memory; move-only.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n)
      : n_(n), p_(n ? static_cast<T*>(device_malloc(n * sizeof(T))) : nullptr) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : n_(o.n_), p_(o.p_) {
    o.n_ = 0;
    o.p_ = nullptr;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      n_ = o.n_;
      p_ = o.p_;
      o.n_ = 0;
      o.p_ = nullptr;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    copy_to_device(p_, host.data(), host.size() * sizeof(T));
  }
  std::vector<T> download() const {
    std::vector<T> out(n_);
    copy_to_host(out.data(), p_, n_ * sizeof(T));
    return out;
  }

 private:
  void reset() {
    if (p_ != nullptr) device_free(p_);
    p_ = nullptr;
    n_ = 0;
  }
  size_t n_ = 0;
  T* p_ = nullptr;
};

}  // namespace wedlm::cuda
