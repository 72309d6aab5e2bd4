#include "model/op_times.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include <fmt/core.h>

namespace wedlm {

int OpTimes::label(const std::string& name) {
  const auto [it, added] = ids_.emplace(name, int(names_.size()));
  if (added) names_.push_back(name);
  return it->second;
}

void OpTimes::add_forward(int64_t rows, const std::vector<double>& ms) {
  Shape& s = shapes_[rows];
  if (s.ms.size() < ms.size()) s.ms.resize(ms.size(), 0.0);
  for (size_t i = 0; i < ms.size(); ++i) s.ms[i] += ms[i];
  ++s.forwards;
}

std::string OpTimes::report() const {
  std::string out;
  for (const auto& [rows, s] : shapes_) {
    const double n = double(s.forwards), total = std::accumulate(s.ms.begin(), s.ms.end(), 0.0);
    std::vector<std::pair<double, int>> order;  // (ms, id), largest first
    for (size_t i = 0; i < s.ms.size(); ++i)
      if (s.ms[i] > 0) order.emplace_back(s.ms[i], int(i));
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    out += fmt::format("forwards of {} rows: {} timed, {:.3f} ms each in kernels\n\n", rows,
                       s.forwards, total / n);
    out += "| operation | ms a forward | share |\n|---|---:|---:|\n";
    for (const auto& [ms, id] : order)
      out += fmt::format("| {} | {:.3f} | {:.1f}% |\n", names_[size_t(id)], ms / n,
                         total > 0 ? 100.0 * ms / total : 0.0);
    out += "\n";
  }
  return out;
}

}  // namespace wedlm
