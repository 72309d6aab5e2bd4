// sample_row: sampling.h's rule in O(vocab), the host side of sample_rule.h.
#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <vector>

#include "core/check.h"
#include "ops/sampling/sample_rule.h"
#include "ops/sampling/sampling.h"

namespace wedlm {
namespace {

using sample_rule::Cut;

struct Entry {
  uint32_t key;
  int32_t id;
  uint64_t mass;
};

// The candidates that `lo` keeps, in id order, with their masses; zero masses are left out (they
// never make a running sum cross).
template <class Mass>
std::vector<Entry> entries(const float* z, int64_t n, int64_t banned, Cut lo, Mass mass) {
  std::vector<Entry> e;
  e.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!sample_rule::candidate(z[i], i, banned)) continue;
    const uint32_t key = sample_rule::order_key(z[i]);
    if (!lo.keeps(key, i)) continue;
    if (const uint64_t m = mass(z[i]); m > 0) e.push_back({key, int32_t(i), m});
  }
  return e;
}

uint64_t total_mass(const std::vector<Entry>& e) {
  uint64_t t = 0;
  for (const Entry& x : e) t += x.mass;
  return t;
}

// The first entry in the order (key descending, then id ascending) at which the running sum of
// masses exceeds `target`; none when the whole sum does not. `e` comes in id order.
std::optional<Cut> crossing(std::vector<Entry> e, uint64_t target) {
  uint64_t rem = target;
  for (int shift = 24; shift >= 0; shift -= 8) {
    uint64_t hist[256] = {};
    for (const Entry& x : e) hist[(x.key >> shift) & 255u] += x.mass;
    int d = 255;
    while (d >= 0 && rem >= hist[d]) rem -= hist[d--];
    if (d < 0) return std::nullopt;
    std::erase_if(e, [&](const Entry& x) { return int((x.key >> shift) & 255u) != d; });
  }
  for (const Entry& x : e) {  // one logit value left: its ties in id order
    if (rem < x.mass) return Cut{x.key, x.id};
    rem -= x.mass;
  }
  WEDLM_CHECK(false, "sample_row: a byte's mass exceeded the target, its entries did not");
  return std::nullopt;
}

}  // namespace

int32_t sample_row(const float* z, int64_t n, const RowDraw& d) {
  if (d.temperature <= 0) return row_argmax(z, n, d.banned);
  float mx = -INFINITY;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i)
    if (sample_rule::candidate(z[i], i, d.banned)) mx = std::max(mx, z[i]), ++count;
  Cut lo;  // every candidate
  if (d.top_k > 0 && d.top_k < count) {
    const auto one = [](float) { return uint64_t(1); };
    const auto kth = crossing(entries(z, n, d.banned, lo, one), uint64_t(d.top_k - 1));
    lo = Cut{kth->key, INT32_MAX};  // ties of the k-th survive
  }
  if (d.top_p < 1) {
    const auto at_1 = [&](float x) { return sample_rule::mass_of(x, mx, 1.0f); };
    std::vector<Entry> e = entries(z, n, d.banned, lo, at_1);
    const uint64_t total = total_mass(e);
    if (auto c = crossing(std::move(e), sample_rule::target_of(d.top_p, total))) lo = *c;
  }
  const float t = float(d.temperature);
  const auto at_t = [&](float x) { return sample_rule::mass_of(x, mx, t); };
  std::vector<Entry> e = entries(z, n, d.banned, lo, at_t);
  const uint64_t total = total_mass(e);
  if (total == 0) return row_argmax(z, n, d.banned);  // no candidate, or an infinite logit
  const auto c = crossing(std::move(e), std::min(sample_rule::target_of(d.u, total), total - 1));
  return c->id;
}

}  // namespace wedlm
