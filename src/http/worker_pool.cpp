#include "http/worker_pool.h"

#include <algorithm>

namespace wedlm::http {

WorkerPool::WorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit)
    : max_(std::max<size_t>(max_threads, 1)), idle_exit_(idle_exit) {}

void WorkerPool::enqueue(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mu_);
  join_exited();
  jobs_.push_back(std::move(job));
  if (jobs_.size() > idle_ && threads_.size() < max_) threads_.emplace_back([this] { work(); });
  cv_.notify_one();
}

void WorkerPool::join_exited() {
  for (std::thread::id id : exited_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    if (it == threads_.end()) continue;
    it->join();  // it has returned from work(), or is about to
    threads_.erase(it);
  }
  exited_.clear();
}

void WorkerPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    threads.swap(threads_);
    exited_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

size_t WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size() - exited_.size();
}

size_t WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size() - exited_.size() - idle_;
}

void WorkerPool::work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    const bool woken = cv_.wait_for(lock, idle_exit_, [this] { return stop_ || !jobs_.empty(); });
    --idle_;
    if (!woken && !stop_) {  // idle for idle_exit_: this thread ends (joined by a later call)
      exited_.push_back(std::this_thread::get_id());
      return;
    }
    if (jobs_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace wedlm::http
