#include "bench/serve_metrics.h"

#include <fmt/core.h>

#include "bench/stats.h"

namespace wedlm::bench {

Distribution distribution(const std::vector<double>& x) {
  double var = 0;
  const double m = mean(x);
  for (double v : x) var += (v - m) * (v - m);
  // vLLM reports numpy's std (population)
  return {m, percentile(x, 50), x.empty() ? 0 : std::sqrt(var / double(x.size())),
          percentile(x, 95), percentile(x, 99)};
}

ServeMetrics serve_metrics(const std::vector<RequestOutcome>& outs, double duration_s) {
  ServeMetrics m;
  m.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestOutcome& o : outs) {
    if (!o.ok) {
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.total_input += o.prompt_tokens;
    m.total_output += o.output_tokens;
    m.total_chunks += o.n_chunks;
    if (o.n_chunks > 0) ttft.push_back(o.ttft_ms);
    e2el.push_back(o.e2e_ms);
    if (o.output_tokens > 1) tpot.push_back((o.e2e_ms - o.ttft_ms) / double(o.output_tokens - 1));
    itl.insert(itl.end(), o.itl_ms.begin(), o.itl_ms.end());
  }
  if (duration_s > 0) {
    m.request_throughput = double(m.completed) / duration_s;
    m.output_throughput = double(m.total_output) / duration_s;
    m.total_token_throughput = double(m.total_input + m.total_output) / duration_s;
    m.chunks_per_s = double(m.total_chunks) / duration_s;
  }
  m.tokens_per_chunk = m.total_chunks ? double(m.total_output) / double(m.total_chunks) : 0;
  m.ttft = distribution(ttft);
  m.tpot = distribution(tpot);
  m.itl = distribution(itl);
  m.e2el = distribution(e2el);
  return m;
}

namespace {

std::string line(const std::string& label, double v, int digits = 2) {
  return fmt::format("{:<40}{:<10.{}f}\n", label, v, digits);
}

std::string section(const std::string& title) {
  const size_t pad = title.size() >= 48 ? 0 : 48 - title.size();
  return std::string(pad / 2, '-') + title + std::string(pad - pad / 2, '-') + "\n";
}

std::string block(const char* name, const char* title, const Distribution& d) {
  return section(title) + line(fmt::format("Mean {} (ms):", name), d.mean) +
         line(fmt::format("Median {} (ms):", name), d.median) +
         line(fmt::format("P95 {} (ms):", name), d.p95) +
         line(fmt::format("P99 {} (ms):", name), d.p99);
}

void put(nlohmann::ordered_json& j, const char* name, const Distribution& d) {
  j[fmt::format("mean_{}_ms", name)] = d.mean;
  j[fmt::format("median_{}_ms", name)] = d.median;
  j[fmt::format("std_{}_ms", name)] = d.std;
  j[fmt::format("p95_{}_ms", name)] = d.p95;
  j[fmt::format("p99_{}_ms", name)] = d.p99;
}

}  // namespace

std::string serve_report(const std::string& title, const ServeMetrics& m) {
  std::string o = std::string(12, '=') + " Serving Benchmark Result " + std::string(12, '=') +
                  "\n" + (title.empty() ? "" : fmt::format("{:<40}{}\n", "Scenario:", title));
  o += line("Successful requests:", double(m.completed), 0);
  o += line("Failed requests:", double(m.failed), 0);
  o += line("Benchmark duration (s):", m.duration_s);
  o += line("Total input tokens:", double(m.total_input), 0);
  o += line("Total generated tokens:", double(m.total_output), 0);
  o += line("Request throughput (req/s):", m.request_throughput);
  o += line("Output token throughput (tok/s):", m.output_throughput);
  o += line("Total Token throughput (tok/s):", m.total_token_throughput);
  o += block("TTFT", "Time to First Token", m.ttft);
  o += block("TPOT", "Time per Output Token (excl. 1st token)", m.tpot);
  o += block("ITL", "Inter-token Latency", m.itl);
  o += block("E2EL", "End-to-end Latency", m.e2el);
  o += section("WeDLM chunks");
  o += line("Chunks per second:", m.chunks_per_s);
  o += line("Tokens per chunk:", m.tokens_per_chunk);
  return o + std::string(50, '=') + "\n";
}

nlohmann::ordered_json serve_json(const ServeMetrics& m, const std::vector<RequestOutcome>& outs) {
  nlohmann::ordered_json j = {{"duration", m.duration_s},
                              {"completed", m.completed},
                              {"failed", m.failed},
                              {"total_input_tokens", m.total_input},
                              {"total_output_tokens", m.total_output},
                              {"request_throughput", m.request_throughput},
                              {"output_throughput", m.output_throughput},
                              {"total_token_throughput", m.total_token_throughput}};
  put(j, "ttft", m.ttft);
  put(j, "tpot", m.tpot);
  put(j, "itl", m.itl);
  put(j, "e2el", m.e2el);
  j["chunks_per_s"] = m.chunks_per_s;
  j["tokens_per_chunk"] = m.tokens_per_chunk;
  nlohmann::ordered_json in = nlohmann::ordered_json::array(), out = in, ttfts = in, itls = in,
                         errors = in,
                         e2els = in;  // built apart: ordered_json entries move as keys are added
  for (const RequestOutcome& o : outs) {
    in.push_back(o.prompt_tokens);
    out.push_back(o.output_tokens);
    ttfts.push_back(o.ttft_ms / 1000);  // vLLM stores seconds here
    e2els.push_back(o.e2e_ms / 1000);
    nlohmann::ordered_json gaps = nlohmann::ordered_json::array();
    for (double g : o.itl_ms) gaps.push_back(g / 1000);  // seconds, as vLLM
    itls.push_back(std::move(gaps));
    errors.push_back(o.error);
  }
  j["input_lens"] = std::move(in);
  j["output_lens"] = std::move(out);
  j["ttfts"] = std::move(ttfts);
  j["e2els"] = std::move(e2els);
  j["itls"] = std::move(itls);
  j["errors"] = std::move(errors);
  return j;
}

}  // namespace wedlm::bench
