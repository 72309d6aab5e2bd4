// The figures of a serving benchmark, defined as vLLM's benchmark_serving defines them:
//   TTFT  request sent -> first content chunk;
//   TPOT  per request, (E2EL - TTFT) / (output tokens - 1), for requests with 2+ tokens;
//   ITL   every gap between consecutive content chunks, pooled over requests;
//   E2EL  request sent -> stream end;
// throughputs over the benchmark's wall time. WeDLM adds chunks per second and tokens per chunk
// (it commits several tokens per step, so a chunk often carries several tokens).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/openai_client.h"

namespace wedlm::bench {

struct Distribution {
  double mean = 0, median = 0, std = 0, p95 = 0, p99 = 0;
};
Distribution distribution(const std::vector<double>& x);

struct ServeMetrics {
  int64_t completed = 0, failed = 0, total_input = 0, total_output = 0, total_chunks = 0;
  double duration_s = 0, request_throughput = 0, output_throughput = 0, total_token_throughput = 0;
  double chunks_per_s = 0, tokens_per_chunk = 0;
  Distribution ttft, tpot, itl, e2el;  // milliseconds
};

ServeMetrics serve_metrics(const std::vector<RequestOutcome>& outcomes, double duration_s);
// vLLM's console block ("============ Serving Benchmark Result ============" ...).
std::string serve_report(const std::string& title, const ServeMetrics& m);
// vLLM's --save-result keys (duration, completed, ..., mean_ttft_ms, p99_itl_ms, ...), plus
// per-request input_lens, output_lens, ttfts, itls, errors and WeDLM's chunk figures.
nlohmann::ordered_json serve_json(const ServeMetrics& m, const std::vector<RequestOutcome>& outs);

}  // namespace wedlm::bench
