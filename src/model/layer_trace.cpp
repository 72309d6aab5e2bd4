#include "model/layer_trace.h"

#include <algorithm>
#include <cmath>

namespace wedlm {

LayerObserver LayerTrace::recorder() {
  return [this](const LayerOutput& o) {
    layers_.push_back(
        {o.layer, {o.rows.begin(), o.rows.end()}, {o.values.begin(), o.values.end()}});
  };
}

std::optional<int64_t> LayerTrace::first_departure(const LayerTrace& a, const LayerTrace& b,
                                                   double tol) {
  const size_t n = std::min(a.layers_.size(), b.layers_.size());
  for (size_t i = 0; i < n; ++i) {
    const Layer &x = a.layers_[i], &y = b.layers_[i];
    if (x.layer != y.layer || x.rows != y.rows || x.values.size() != y.values.size())
      return x.layer;
    double scale = 0, diff = 0;
    for (size_t k = 0; k < x.values.size(); ++k) {
      scale = std::max(scale, std::fabs(double(x.values[k])));
      const double d = std::fabs(double(x.values[k]) - double(y.values[k]));
      diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    }
    if (diff > tol * std::max(scale, 1e-30)) return x.layer;
  }
  if (a.layers_.size() != b.layers_.size())
    return a.layers_.size() > n ? a.layers_[n].layer : b.layers_[n].layer;
  return std::nullopt;
}

}  // namespace wedlm
