// `bench-serve --html FILE`: one self-contained HTML page (inline SVG, no scripts, no network) with
// the scenario's plots, one line per decode mode: latency CDFs (single), throughput and TTFT
// against concurrency (batch), per-turn latency and cache hits (multi-turn), and the key figures
// as tables. `results` maps a decode mode ("server default" when none was given) to the
// scenario's saved JSON.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace wedlm::bench {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

// An SVG line chart with axes, ticks and a legend.
std::string svg_chart(const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<Series>& series);
std::string html_report(const std::string& scenario,
                        const std::vector<std::pair<std::string, nlohmann::ordered_json>>& results);

}  // namespace wedlm::bench
