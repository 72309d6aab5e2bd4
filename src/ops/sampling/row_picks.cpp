#include "ops/sampling/sampling.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

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

void LogitEdits::apply(float* logits, int64_t n) const {
  if (repetition != 1.0)
    for (int32_t id : seen)
      if (id >= 0 && id < n) {
        float& x = logits[id];
        x = x > 0 ? float(x / repetition) : float(x * repetition);
      }
  for (const auto& [id, term] : add)
    if (id >= 0 && id < n) logits[id] += term;
  for (int32_t id : banned)
    if (id >= 0 && id < n) logits[id] = kMaskedLogit;
}

void mask_logits(float* logits, int64_t n, const TokenSet& allowed) {
  for (int64_t i = 0; i < n; ++i)
    if (!allowed.allows(i)) logits[i] = kMaskedLogit;
}

int32_t row_argmax(const float* logits, int64_t n, int64_t banned) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i)
    if (i != banned && !std::isnan(logits[i]) && (best < 0 || logits[i] > logits[best])) best = i;
  if (best < 0) best = banned == 0 ? (n > 1 ? 1 : -1) : (n > 0 ? 0 : -1);
  return static_cast<int32_t>(best);
}

void pick_rows(const float* logits, int64_t vocab, std::span<const RowDraw> draws,
               std::vector<RowPick>& picks) {
  const int64_t rows = int64_t(draws.size());
  picks.resize(size_t(rows));
  // Rows over the thread team (on one thread a WeDLM step's 16 rows, their double exps included,
  // were ~5% of a counting run's samples); each row's numbers are its own.
#pragma omp parallel for schedule(static) if (rows > 1)
  for (int64_t r = 0; r < rows; ++r)
    picks[size_t(r)] = pick_row(logits + r * vocab, vocab, draws[size_t(r)]);
}

}  // namespace wedlm
