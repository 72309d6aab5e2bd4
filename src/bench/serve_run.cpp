#include "bench/serve_run.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>

#include "ops/sampling/sampling.h"

namespace wedlm::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Arrival offsets in seconds: exponential gaps of mean 1/rate (all 0 for an infinite rate).
std::vector<double> arrivals(size_t n, double rate, uint64_t seed) {
  std::vector<double> t(n, 0.0);
  if (!std::isfinite(rate) || rate <= 0) return t;
  Rng rng(seed);
  double at = 0;
  for (size_t i = 0; i < n; ++i) t[i] = at, at += -std::log(1.0 - rng.uniform()) / rate;
  return t;
}

void draw(size_t done, size_t total) {
  const int width = 30, filled = total ? int(width * done / total) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(size_t(filled), '#').c_str(),
               std::string(size_t(width - filled), ' ').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

}  // namespace

LoadResult run_load(const ClientConfig& cfg, const std::vector<nlohmann::json>& bodies,
                    const LoadSpec& spec) {
  LoadResult r;
  r.outcomes.resize(bodies.size());
  const std::vector<double> at = arrivals(bodies.size(), spec.request_rate, spec.seed);
  const size_t workers =
      std::min(bodies.size(), spec.max_concurrency > 0 ? size_t(spec.max_concurrency)
                                                       : std::min<size_t>(bodies.size(), 512));
  const bool bar = spec.progress && isatty(STDERR_FILENO);
  std::atomic<size_t> next{0}, done{0};
  std::mutex bar_mu;
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < bodies.size();) {
        std::this_thread::sleep_until(
            t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at[i])));
        r.outcomes[i] = stream_request(cfg, bodies[i]);
        const size_t d = ++done;
        if (bar) {
          std::lock_guard<std::mutex> lock(bar_mu);
          draw(d, bodies.size());
        }
      }
    });
  for (std::thread& t : pool) t.join();
  r.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace wedlm::bench
