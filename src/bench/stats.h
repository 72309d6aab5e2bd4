// Summary statistics of benchmark samples: mean, sample standard deviation, percentiles
// (linear interpolation between closest ranks, as numpy's default and vLLM's benchmark use).
#pragma once

#include <vector>

namespace wedlm::bench {

double mean(const std::vector<double>& x);
double stddev(const std::vector<double>& x);  // sample (n - 1); 0 for fewer than 2 samples
// p in [0, 100]; 0 for no samples.
double percentile(std::vector<double> x, double p);

}  // namespace wedlm::bench
