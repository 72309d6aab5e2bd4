// Prometheus metrics of the server, in the text exposition format, named as vLLM names them
// under "wedlm:" (vllm:num_requests_running -> wedlm:num_requests_running, ...). Request-level
// figures are recorded as requests finish; engine-level ones (running, waiting, KV usage, prefix
// cache, preemptions, steps) are read from the engine when /metrics is scraped. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace wedlm::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // The _bucket, _sum and _count lines of metric `name` (its HELP and TYPE not included).
  std::string render(const std::string& name) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// The HTTP layer at scrape time: connections open, worker threads alive and answering.
struct HttpGauges {
  size_t connections = 0, workers = 0, busy_workers = 0;
};

class Metrics {
 public:
  // `build`: the build commit, shown by wedlm:build_info.
  explicit Metrics(std::string build = "unknown");
  void on_http(const std::string& endpoint, int status);
  // A generation request ended (any finish reason) with these counters.
  void on_request(const RequestCounters& c, const std::string& finish_reason);
  std::string render(const EngineStats* engine,
                     const HttpGauges& http = {}) const;  // engine null while loading

 private:
  mutable std::mutex mu_;
  std::string build_;
  std::map<std::pair<std::string, int>, uint64_t> http_;  // (endpoint, status) -> count
  std::map<std::string, uint64_t> finished_;              // finish reason -> count
  uint64_t prompt_tokens_ = 0, generation_tokens_ = 0, cached_tokens_ = 0;
  Histogram ttft_, e2e_, tpot_, queue_, forwards_, tokens_per_forward_, prompt_len_, output_len_;
};

}  // namespace wedlm::server
