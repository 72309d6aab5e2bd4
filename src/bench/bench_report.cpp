#include "bench/bench_report.h"

#include <cstdlib>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/stats.h"

namespace wedlm::bench {
namespace {

std::string mode_of(const BenchCase& c) { return c.mode == DecodeMode::kAR ? "ar" : "wedlm"; }

std::string threshold_of(const BenchCase& c) {
  if (c.mode == DecodeMode::kAR) return "-";
  return c.threshold ? fmt::format("{}", *c.threshold) : "none";
}

std::string window_of(const BenchCase& c) {
  return c.mode == DecodeMode::kAR ? "-" : fmt::format("{}", c.window);
}

std::string params_str(int64_t n) {
  return n >= 1000000000 ? fmt::format("{:.2f} B", double(n) / 1e9)
                         : fmt::format("{:.2f} M", double(n) / 1e6);
}

std::string markdown(const ReportHeader& h, const std::vector<CaseResult>& rows) {
  std::string o =
      "| model | params | dtype | backend | threads | mode | window | threshold | np "
      "| test | t/s | forwards/s | tokens/forward | TTFT ms |\n"
      "|---|---:|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|\n";
  for (const CaseResult& r : rows) {
    const BenchCase& c = r.c;
    o += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} | "
        "{:.2f} | {:.2f} | {:.2f} |\n",
        h.model, params_str(h.params), h.dtype, h.backend, c.threads, mode_of(c), window_of(c),
        threshold_of(c), c.parallel, label(c), mean(r.tokens_per_s), stddev(r.tokens_per_s),
        r.forwards_per_s, r.tokens_per_forward, r.ttft_ms);
  }
  std::string load = "unknown";
  if (h.load_average.size() == 3)
    load = fmt::format("{:.2f} {:.2f} {:.2f}", h.load_average[0], h.load_average[1],
                       h.load_average[2]);
  return o + fmt::format("\n{}, {} repetitions after a warm-up, {}, build {}, load average {}\n",
                         h.cpu, h.reps, h.sampling, h.commit, load);
}

std::string csv(const ReportHeader& h, const std::vector<CaseResult>& rows) {
  std::string o =
      "model,params,dtype,backend,cpu,commit,threads,mode,window,threshold,np,test,"
      "tokens_per_s,tokens_per_s_sd,forwards_per_s,tokens_per_forward,ttft_ms\n";
  for (const CaseResult& r : rows) {
    const BenchCase& c = r.c;
    o += fmt::format(
        "\"{}\",{},{},{},\"{}\",{},{},{},{},{},{},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f}\n", h.model,
        h.params, h.dtype, h.backend, h.cpu, h.commit, c.threads, mode_of(c), c.window,
        threshold_of(c), c.parallel, label(c), mean(r.tokens_per_s), stddev(r.tokens_per_s),
        r.forwards_per_s, r.tokens_per_forward, r.ttft_ms);
  }
  return o;
}

std::string json_report(const ReportHeader& h, const std::vector<CaseResult>& rows) {
  nlohmann::ordered_json j = {{"build_commit", h.commit},
                              {"cpu", h.cpu},
                              {"backend", h.backend},
                              {"model", h.model},
                              {"params", h.params},
                              {"dtype", h.dtype},
                              {"repetitions", h.reps},
                              {"sampling", h.sampling},
                              {"load_average", h.load_average},
                              {"results", nlohmann::json::array()}};
  for (const CaseResult& r : rows) {
    const BenchCase& c = r.c;
    j["results"].push_back(
        {{"test", label(c)},
         {"threads", c.threads},
         {"mode", mode_of(c)},
         {"window", c.window},
         {"threshold", c.threshold ? nlohmann::json(*c.threshold) : nlohmann::json()},
         {"parallel", c.parallel},
         {"tokens_per_s",
          {{"mean", mean(r.tokens_per_s)},
           {"sd", stddev(r.tokens_per_s)},
           {"samples", r.tokens_per_s}}},
         {"forwards_per_s", r.forwards_per_s},
         {"tokens_per_forward", r.tokens_per_forward},
         {"ttft_ms", r.ttft_ms}});
  }
  return j.dump(1) + "\n";
}

}  // namespace

std::vector<double> load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return {};
  return {l[0], l[1], l[2]};
}

std::string report(const ReportHeader& h, const std::vector<CaseResult>& rows, ReportFormat f) {
  switch (f) {
    case ReportFormat::kCsv: return csv(h, rows);
    case ReportFormat::kJson: return json_report(h, rows);
    default: return markdown(h, rows);
  }
}

}  // namespace wedlm::bench
