// Rows of logits and draws that exercise every branch of the sampling rule
// (ops/sampling/sampling.h): greedy and several temperatures, top-k (1, small, ties at the k-th),
// top-p (tight and loose), a banned id, rows with many exact ties, a NaN and an -inf. Shared by the
// host test (sample_row against the sorting reference) and the device test (sample_rows against
// sample_row).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/sampling/sampling.h"

namespace wedlm::test {

struct SampleCase {
  int64_t vocab = 0;
  std::vector<float> logits;   // [draws.size(), vocab]
  std::vector<RowDraw> draws;  // one per row
  const float* row(size_t r) const { return logits.data() + r * size_t(vocab); }
};

inline SampleCase sample_case(int64_t vocab, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double temps[] = {0.0, 0.2, 0.7, 1.0, 1.5};
  const int64_t top_ks[] = {0, 1, 7, 50};
  const double top_ps[] = {1.0, 0.9, 0.5, 0.05};
  SampleCase c;
  c.vocab = vocab;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < vocab; ++i) {
      float x = normal(rng);
      if (r % 3 == 1) x = std::round(x * 2.0f) / 2.0f;  // few values: ties everywhere
      c.logits.push_back(x);
    }
    if (r % 7 == 5 && vocab > 3) {
      c.logits[size_t(r * vocab + 1)] = NAN;
      c.logits[size_t(r * vocab + 2)] = -INFINITY;
    }
    RowDraw d;
    d.temperature = temps[r % 5];
    d.top_k = top_ks[(r / 5) % 4];
    d.top_p = top_ps[(r / 2) % 4];
    d.banned = r % 4 == 0 ? -1 : (r * 7919) % vocab;
    d.u = unit(rng);
    c.draws.push_back(d);
  }
  return c;
}

}  // namespace wedlm::test
