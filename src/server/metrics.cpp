#include "server/metrics.h"

#include <fmt/core.h>

namespace wedlm::server {
namespace {

// vLLM's buckets for the latency histograms
const std::vector<double> kTtft = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,
                                   0.75,  1.0,   2.5,  5.0,  7.5,  10.0, 20.0, 40.0, 80.0};
const std::vector<double> kE2e = {0.3,  0.5,  0.8,  1.0,  1.5,  2.0,   2.5,   5.0,   10.0, 15.0,
                                  20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0};
const std::vector<double> kTpot = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                   0.1,    0.15,   0.2,   0.3,    0.4,   0.5,  0.75,  1.0,  2.5};
const std::vector<double> kCount = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
const std::vector<double> kPerForward = {1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32};

std::string num(double v) { return fmt::format("{}", v); }

std::string header(const std::string& name, const char* type, const char* help) {
  return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string scalar(const std::string& name, const char* type, const char* help, double v) {
  return header(name, type, help) + name + " " + num(v) + "\n";
}

}  // namespace

void Histogram::observe(double v) {
  size_t b = 0;
  while (b < bounds_.size() && v > bounds_[b]) ++b;
  ++counts_[b];
  sum_ += v;
  ++count_;
}

std::string Histogram::render(const std::string& name) const {
  std::string out;
  uint64_t cum = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    cum += counts_[b];
    const std::string le = b < bounds_.size() ? num(bounds_[b]) : "+Inf";
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cum);
  }
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, num(sum_), name, count_);
  return out;
}

Metrics::Metrics(std::string build)
    : build_(std::move(build)),
      ttft_(kTtft),
      e2e_(kE2e),
      tpot_(kTpot),
      queue_(kTtft),
      forwards_(kCount),
      tokens_per_forward_(kPerForward),
      prompt_len_(kCount),
      output_len_(kCount) {}

void Metrics::on_http(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++http_[{endpoint, status}];
}

void Metrics::on_request(const RequestCounters& c, const std::string& finish_reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++finished_[finish_reason];
  prompt_tokens_ += uint64_t(c.prompt_tokens);
  cached_tokens_ += uint64_t(c.cached_tokens);
  generation_tokens_ += uint64_t(c.completion_tokens);
  e2e_.observe(c.total_ms / 1000);
  queue_.observe(c.queue_ms / 1000);
  prompt_len_.observe(double(c.prompt_tokens));
  output_len_.observe(double(c.completion_tokens));
  if (c.completion_tokens == 0) return;
  ttft_.observe(c.first_token_ms / 1000);
  if (c.completion_tokens > 1)
    tpot_.observe((c.total_ms - c.first_token_ms) / 1000 / double(c.completion_tokens - 1));
  forwards_.observe(double(c.forwards));
  if (c.forwards) tokens_per_forward_.observe(double(c.completion_tokens) / double(c.forwards));
}

std::string Metrics::render(const EngineStats* s, const HttpGauges& http) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  o += header("wedlm:build_info", "gauge", "The build serving: its commit (always 1).");
  o += fmt::format("wedlm:build_info{{commit=\"{}\"}} 1\n", build_);
  o += scalar("wedlm:http_connections_open", "gauge",
              "Client connections open (idle, sending, or being answered).",
              double(http.connections));
  o += scalar("wedlm:http_workers", "gauge", "HTTP worker threads alive.", double(http.workers));
  o += scalar("wedlm:http_workers_busy", "gauge", "HTTP worker threads answering a request.",
              double(http.busy_workers));
  o += header("wedlm:http_requests_total", "counter", "HTTP requests by endpoint and status.");
  for (const auto& [k, n] : http_)
    o += fmt::format("wedlm:http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first,
                     k.second, n);
  o += header("wedlm:request_success_total", "counter", "Finished generation requests by reason.");
  for (const auto& [reason, n] : finished_)
    o += fmt::format("wedlm:request_success_total{{finished_reason=\"{}\"}} {}\n", reason, n);
  o += scalar("wedlm:prompt_tokens_total", "counter", "Prompt tokens processed.",
              double(prompt_tokens_));
  o += scalar("wedlm:generation_tokens_total", "counter", "Generated tokens.",
              double(generation_tokens_));
  o += scalar("wedlm:prefix_cache_queries_total", "counter",
              "Prompt tokens looked up in the prefix cache.", double(prompt_tokens_));
  o += scalar("wedlm:prefix_cache_hits_total", "counter",
              "Prompt tokens served from the prefix cache.", double(cached_tokens_));
  o += scalar("wedlm:prefix_cache_hit_rate", "gauge",
              "Fraction of prompt tokens served from the prefix cache.",
              prompt_tokens_ ? double(cached_tokens_) / double(prompt_tokens_) : 0.0);
  const std::pair<const char*, const Histogram*> hists[] = {
      {"time_to_first_token_seconds", &ttft_},
      {"e2e_request_latency_seconds", &e2e_},
      {"time_per_output_token_seconds", &tpot_},
      {"request_queue_time_seconds", &queue_},
      {"request_forwards", &forwards_},
      {"request_tokens_per_forward", &tokens_per_forward_},
      {"request_prompt_tokens", &prompt_len_},
      {"request_generation_tokens", &output_len_}};
  const char* helps[] = {"Time to the first committed token.",
                         "End-to-end request latency.",
                         "Time per output token after the first.",
                         "Time queued before admission.",
                         "Decode forwards per request.",
                         "Committed tokens per decode forward.",
                         "Prompt tokens per request.",
                         "Generated tokens per request."};
  for (size_t i = 0; i < std::size(hists); ++i) {
    const std::string name = std::string("wedlm:") + hists[i].first;
    o += header(name, "histogram", helps[i]) + hists[i].second->render(name);
  }
  if (!s) return o;
  o += scalar("wedlm:num_requests_running", "gauge", "Requests being decoded.", double(s->running));
  o += scalar("wedlm:num_requests_waiting", "gauge", "Requests waiting for admission.",
              double(s->waiting));
  const double used = s->kv_blocks ? 1.0 - double(s->kv_blocks_free) / double(s->kv_blocks) : 0;
  o += scalar("wedlm:kv_cache_usage_perc", "gauge", "Fraction of KV blocks in use (1 = full).",
              used);
  o += scalar("wedlm:kv_cache_blocks", "gauge", "KV blocks in the pool.", double(s->kv_blocks));
  o += scalar("wedlm:kv_cache_blocks_in_use", "gauge", "KV blocks held by requests.",
              double(s->kv_blocks - s->kv_blocks_free));
  o += scalar("wedlm:kv_cache_blocks_cached", "gauge",
              "Full KV blocks registered for prefix reuse.", double(s->kv_blocks_cached));
  o += scalar("wedlm:num_preemptions_total", "counter", "Requests preempted for KV space.",
              double(s->preemptions));
  o += scalar("wedlm:engine_steps_total", "counter", "Batched forwards run by the engine.",
              double(s->steps));
  o += scalar("wedlm:prefix_cache_evictions_total", "counter", "Cached KV blocks evicted.",
              double(s->evictions));
  return o;
}

}  // namespace wedlm::server
