#include "bench/html_report.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

namespace wedlm::bench {
namespace {

using ojson = nlohmann::ordered_json;

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// The empirical CDF of `values` as points (value, fraction <= value).
Series cdf(const std::string& name, std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Series s{name, {}};
  for (size_t i = 0; i < values.size(); ++i)
    s.points.emplace_back(values[i], double(i + 1) / double(values.size()));
  return s;
}

std::vector<double> numbers(const ojson& a, double scale = 1) {
  std::vector<double> v;
  if (a.is_array())
    for (const ojson& x : a)
      if (x.is_number()) v.push_back(x.get<double>() * scale);
  return v;
}

std::string table(const std::vector<std::string>& head,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string o = "<table><tr>";
  for (const auto& h : head) o += "<th>" + escape(h) + "</th>";
  o += "</tr>";
  for (const auto& r : rows) {
    o += "<tr>";
    for (const auto& c : r) o += "<td>" + escape(c) + "</td>";
    o += "</tr>";
  }
  return o + "</table>";
}

std::string f2(const ojson& v) {
  return v.is_number() ? fmt::format("{:.2f}", v.get<double>()) : "-";
}

using Results = std::vector<std::pair<std::string, ojson>>;

std::string single_page(const Results& rs) {
  std::vector<Series> ttft, e2el;
  std::vector<std::vector<std::string>> rows;
  for (const auto& [mode, j] : rs) {
    ttft.push_back(cdf(mode, numbers(j["ttfts"], 1000)));
    e2el.push_back(cdf(mode, numbers(j.value("e2els", ojson()), 1000)));
    rows.push_back({mode, f2(j["output_throughput"]), f2(j["mean_ttft_ms"]), f2(j["mean_tpot_ms"]),
                    f2(j["median_itl_ms"]), f2(j["p99_e2el_ms"]), f2(j["tokens_per_chunk"])});
  }
  return table({"mode", "output tok/s", "mean TTFT ms", "mean TPOT ms", "median ITL ms",
                "p99 E2EL ms", "tokens/chunk"},
               rows) +
         svg_chart("Time to first token (CDF)", "TTFT (ms)", "fraction of requests", ttft) +
         svg_chart("End-to-end latency (CDF)", "E2EL (ms)", "fraction of requests", e2el);
}

std::string batch_page(const Results& rs) {
  std::vector<Series> tput, ttft;
  std::vector<std::vector<std::string>> rows;
  for (const auto& [mode, j] : rs) {
    Series a{mode, {}}, b{mode, {}};
    for (const ojson& lv : j["levels"]) {
      const double c = lv["max_concurrency"].get<double>();
      a.points.emplace_back(c, lv["output_throughput"].get<double>());
      b.points.emplace_back(c, lv["mean_ttft_ms"].get<double>());
      rows.push_back({mode, lv["max_concurrency"].dump(), f2(lv["output_throughput"]),
                      f2(lv["mean_ttft_ms"]), f2(lv["mean_tpot_ms"]), f2(lv["p99_e2el_ms"])});
    }
    tput.push_back(a), ttft.push_back(b);
  }
  return table(
             {"mode", "concurrency", "output tok/s", "mean TTFT ms", "mean TPOT ms", "p99 E2EL ms"},
             rows) +
         svg_chart("Output throughput against concurrency", "concurrent requests", "tokens/s",
                   tput) +
         svg_chart("Mean TTFT against concurrency", "concurrent requests", "ms", ttft);
}

std::string turns_page(const Results& rs) {
  std::vector<Series> lat, hit;
  std::vector<std::vector<std::string>> rows;
  for (const auto& [mode, j] : rs) {
    Series a{mode, {}}, b{mode, {}};
    for (const ojson& t : j["turns"]) {
      const double turn = t["turn"].get<double>(), p = t["mean_prompt_tokens"].get<double>();
      a.points.emplace_back(turn, t["mean_e2el_ms"].get<double>());
      b.points.emplace_back(turn, p > 0 ? 100 * t["mean_cached_tokens"].get<double>() / p : 0);
      rows.push_back({mode, t["turn"].dump(), f2(t["mean_prompt_tokens"]),
                      f2(t["mean_cached_tokens"]), f2(t["mean_ttft_ms"]), f2(t["mean_e2el_ms"])});
    }
    lat.push_back(a), hit.push_back(b);
  }
  return table({"mode", "turn", "prompt tokens", "cached tokens", "mean TTFT ms", "mean E2EL ms"},
               rows) +
         svg_chart("Latency per turn", "turn", "mean E2EL (ms)", lat) +
         svg_chart("Prompt tokens served from the prefix cache", "turn", "%", hit);
}

std::string raw_page(const Results& rs) {
  std::string o;
  for (const auto& [mode, j] : rs)
    o += "<h3>" + escape(mode) + "</h3><pre>" + escape(j.dump(1)) + "</pre>";
  return o;
}

}  // namespace

std::string svg_chart(const std::string& title, const std::string& x_label,
                      const std::string& y_label, const std::vector<Series>& series) {
  const double W = 640, H = 360, L = 70, R = 20, T = 40, B = 50;
  double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
  for (const Series& s : series)
    for (const auto& [x, y] : s.points)
      x0 = std::min(x0, x), x1 = std::max(x1, x), y1 = std::max(y1, y);
  if (!std::isfinite(x0)) x0 = 0, x1 = 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= 0) y1 = 1;
  const auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  const auto py = [&](double y) { return H - B - y / y1 * (H - T - B); };
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">",
      W, H);
  o += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">{}</text>",
                   W / 2, escape(title));
  o += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>"
      "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" stroke=\"black\"/>",
      L, H - B, W - R, T);
  for (int k = 0; k <= 4; ++k) {
    const double x = x0 + (x1 - x0) * k / 4, y = y1 * k / 4;
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.4g}</text>", px(x),
                     H - B + 16, x);
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>", L - 6, py(y) + 4,
                     y);
  }
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", (L + W - R) / 2,
                   H - 12, escape(x_label));
  o += fmt::format(
      "<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">{}"
      "</text>",
      (T + H - B) / 2, (T + H - B) / 2, escape(y_label));
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % std::size(kColors)];
    std::string pts;
    for (const auto& [x, y] : series[i].points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                     color, pts);
    o += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>", W - R - 150, T + 16 * (i + 1),
                     color, escape(series[i].name));
  }
  return o + "</svg>";
}

std::string html_report(const std::string& scenario, const Results& results) {
  std::string body = scenario == "single"       ? single_page(results)
                     : scenario == "batch"      ? batch_page(results)
                     : scenario == "multi-turn" ? turns_page(results)
                                                : raw_page(results);
  return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>wedlm bench-serve: " +
         escape(scenario) +
         "</title><style>body{font-family:sans-serif;margin:2em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
         "text-align:right}svg{display:block;margin:1em 0}</style></head><body><h1>wedlm "
         "bench-serve: " +
         escape(scenario) + "</h1>" + body + "</body></html>\n";
}

}  // namespace wedlm::bench
