#include "ops/sampling/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

namespace wedlm {

namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // splitmix64's counter step

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double to_unit(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

}  // namespace

uint64_t Rng::next_u64() { return mix(s_ += kGamma); }

double Rng::uniform() { return to_unit(next_u64()); }

double Rng::uniform_at(uint64_t seed, uint64_t k) { return to_unit(mix(seed + (k + 1) * kGamma)); }

namespace {

// Candidate ids surviving top-k and top-p, in descending logit order.
std::vector<int32_t> candidates(const float* logits, int64_t n, const SamplingParams& p,
                                int64_t mask_id) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i)
    if (i != mask_id && !std::isnan(logits[i])) ids.push_back(static_cast<int32_t>(i));
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (p.top_k > 0 && p.top_k < int64_t(ids.size())) {
    const float kth = logits[ids[size_t(p.top_k - 1)]];
    size_t keep = size_t(p.top_k);
    while (keep < ids.size() && logits[ids[keep]] >= kth) ++keep;  // ties survive
    ids.resize(keep);
  }
  if (p.top_p < 1.0 && !ids.empty()) {
    const double mx = logits[ids[0]];
    double z = 0;
    for (int32_t i : ids) z += std::exp(double(logits[i]) - mx);
    double cum = 0;
    size_t keep = 0;
    while (keep < ids.size()) {
      cum += std::exp(double(logits[ids[keep]]) - mx) / z;
      ++keep;
      if (cum > p.top_p) break;
    }
    ids.resize(keep);
  }
  return ids;
}

}  // namespace

int32_t choose_token(const float* logits, int64_t n, const SamplingParams& p, double u,
                     int64_t mask_id) {
  if (p.temperature <= 0) return row_argmax(logits, n, mask_id);
  const std::vector<int32_t> ids = candidates(logits, n, p, mask_id);
  if (ids.empty()) return row_argmax(logits, n, mask_id);
  const double mx = logits[ids[0]] / p.temperature;
  std::vector<double> w(ids.size());
  double z = 0;
  for (size_t i = 0; i < ids.size(); ++i)
    z += (w[i] = std::exp(logits[ids[i]] / p.temperature - mx));
  u *= z;
  for (size_t i = 0; i < ids.size(); ++i)
    if ((u -= w[i]) < 0) return ids[i];
  return ids.back();
}

namespace {

// Log-softmax of logits[ids] / temperature, then the result for `token` and the top n.
TokenLogprob logprob_over(const float* logits, const std::vector<int32_t>& ids, double temperature,
                          int32_t token, int64_t n_top) {
  double mx = -INFINITY;
  for (int32_t i : ids) mx = std::max(mx, double(logits[i]) / temperature);
  double z = 0;
  for (int32_t i : ids) z += std::exp(double(logits[i]) / temperature - mx);
  const double log_z = mx + std::log(z);
  const auto lp = [&](int32_t i) { return float(double(logits[i]) / temperature - log_z); };
  TokenLogprob r;
  r.logprob = std::find(ids.begin(), ids.end(), token) != ids.end() ? lp(token) : -INFINITY;
  std::vector<int32_t> top = ids;
  const size_t k = std::min(top.size(), size_t(std::max<int64_t>(n_top, 0)));
  std::partial_sort(top.begin(), top.begin() + std::ptrdiff_t(k), top.end(),
                    [&](int32_t a, int32_t b) {
                      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
                    });
  for (size_t j = 0; j < k; ++j) r.top.push_back({top[j], lp(top[j])});
  return r;
}

}  // namespace

TokenLogprob token_logprob(const float* logits, int64_t n, const SamplingParams& p, int64_t mask_id,
                           int32_t token, int64_t n_top) {
  std::vector<int32_t> ids;
  if (p.temperature > 0) ids = candidates(logits, n, p, mask_id);
  if (ids.empty()) {  // greedy (or nothing survived the filters): the model's distribution
    for (int64_t i = 0; i < n; ++i)
      if (i != mask_id && !std::isnan(logits[i])) ids.push_back(static_cast<int32_t>(i));
    return logprob_over(logits, ids, 1.0, token, n_top);
  }
  return logprob_over(logits, ids, p.temperature, token, n_top);
}

}  // namespace wedlm
