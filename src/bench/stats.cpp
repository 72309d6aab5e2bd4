#include "bench/stats.h"

#include <algorithm>
#include <cmath>

namespace wedlm::bench {

double mean(const std::vector<double>& x) {
  if (x.empty()) return 0;
  double s = 0;
  for (double v : x) s += v;
  return s / double(x.size());
}

double stddev(const std::vector<double>& x) {
  if (x.size() < 2) return 0;
  const double m = mean(x);
  double s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / double(x.size() - 1));
}

double percentile(std::vector<double> x, double p) {
  if (x.empty()) return 0;
  std::sort(x.begin(), x.end());
  const double rank = p / 100.0 * double(x.size() - 1);
  const size_t lo = size_t(std::floor(rank)), hi = std::min(lo + 1, x.size() - 1);
  return x[lo] + (rank - double(lo)) * (x[hi] - x[lo]);
}

}  // namespace wedlm::bench
