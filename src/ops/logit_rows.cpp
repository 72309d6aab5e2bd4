#include "ops/logit_rows.h"

#include <algorithm>
#include <cmath>

namespace wedlm {

double row_entropy(const float* logits, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(logits[i]));
  double z = 0, zx = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(logits[i]) - mx, e = std::exp(d);
    z += e;
    zx += e * d;
  }
  return std::log(z) - zx / z;  // H = log Z - E[x - max]
}

int32_t row_argmax(const float* logits, int64_t n, int64_t banned) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i)
    if (i != banned && (best < 0 || logits[i] > logits[best])) best = i;
  return static_cast<int32_t>(best);
}

}  // namespace wedlm
