// The HTTP server's worker threads: started on demand up to a cap, one per request being handled
// (a streamed reply holds its worker until its last byte), and ended after a minute without work,
// so a burst does not leave a thousand idle threads behind. Jobs beyond the cap wait in order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wedlm::http {

class WorkerPool {
 public:
  explicit WorkerPool(size_t max_threads,
                      std::chrono::milliseconds idle_exit = std::chrono::seconds(60));
  ~WorkerPool() { shutdown(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void enqueue(std::function<void()> job);
  void shutdown();         // runs what is queued, then joins every thread
  size_t threads() const;  // alive now
  size_t busy() const;     // running a job now

 private:
  void work();
  void join_exited();  // with mu_ held

  const size_t max_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> exited_;  // ended after idling, to be joined
  size_t idle_ = 0;
  bool stop_ = false;
};

}  // namespace wedlm::http
