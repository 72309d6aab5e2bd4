// `wedlm bench` reports: a markdown table (llama-bench's layout), CSV, or JSON carrying the build
// commit, the CPU, the model and every setting of every case.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_runner.h"

namespace wedlm::bench {

struct ReportHeader {
  std::string model, dtype, backend = "CPU", cpu, commit;
  int64_t params = 0;
  int reps = 0;
  std::string sampling = "greedy";   // or "temperature 0.8, top-k 40, top-p 0.9"
  std::vector<double> load_average;  // 1, 5 and 15 minutes, at the start (other load skews)
};

// The system's load averages (1, 5, 15 minutes); empty when unknown.
std::vector<double> load_average();

enum class ReportFormat { kMarkdown, kCsv, kJson };

std::string report(const ReportHeader& h, const std::vector<CaseResult>& rows, ReportFormat f);

}  // namespace wedlm::bench
