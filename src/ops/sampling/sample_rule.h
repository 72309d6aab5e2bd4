// The arithmetic of drawing a token from a row of logits in O(vocab), shared by the host's
// sample_row (sampling.h) and the device's sample_rows kernel (cuda/cuda_kernels.h), so that
// both make the same choice from the same logits and the same uniform.
//
// The rule is sampling.h's (choose_token, the sort-based reference): candidates are the
// ids that are neither banned nor NaN, in the order "logit descending, then id ascending"; top-k
// keeps those >= the k-th one, top-p the shortest prefix whose probability (temperature 1)
// exceeds top_p, and the draw takes the first candidate at which the running probability
// (temperature T) exceeds u. Each of the three is "the first candidate in the order at which a
// running sum of masses exceeds a target", found without sorting:
//   - each candidate has a 32-bit key that orders like its logit (order_key), and a mass: 1 for
//     top-k, else exp((x - max) / T) in fp32 as a fixed-point integer of kMassBits fraction bits
//     (mass_of); integer sums are exact in any order, so a parallel device sums like the host;
//   - four passes, one byte of the key each, most significant first: the masses per byte value,
//     then the byte at which the running sum (from 255 down) exceeds what is left of the target;
//   - after the fourth byte one logit value is left: its candidates in id order settle the tie.
// Masses below 2^-kMassBits of the largest are 0 (such a token is never drawn: the reference's
// chance of it is below 1e-12 a draw).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define WEDLM_HOST_DEVICE __host__ __device__
#else
#define WEDLM_HOST_DEVICE
#endif

namespace wedlm::sample_rule {

constexpr int kMassBits = 40;
// exp(t) < 2^-40 below t = -27.73: such masses are 0 without calling exp.
constexpr float kMassFloor = -28.0f;

WEDLM_HOST_DEVICE inline bool candidate(float x, int64_t id, int64_t banned) {
  return id != banned && x == x;  // x == x: not NaN
}

// Larger logit, larger key; -0 and +0 are one value.
WEDLM_HOST_DEVICE inline uint32_t order_key(float x) {
  if (x == 0.0f) x = 0.0f;
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// exp((x - mx) / temperature) as an integer of kMassBits fraction bits (x <= mx: at most 2^40).
WEDLM_HOST_DEVICE inline uint64_t mass_of(float x, float mx, float temperature) {
  const float t = (x - mx) / temperature;
  if (!(t >= kMassFloor)) return 0;
  constexpr float kOne = float(uint64_t(1) << kMassBits);  // 2^40: the product is exact
  return uint64_t(expf(t) * kOne);
}

// A place in the order: the candidates from the first one down to (key, id) inclusive.
struct Cut {
  uint32_t key = 0;
  int32_t id = INT32_MAX;
  WEDLM_HOST_DEVICE bool keeps(uint32_t k, int64_t i) const {
    return k > key || (k == key && i <= id);
  }
};

// The running-sum target for a fraction f of a total mass: the crossing is where the sum
// exceeds floor(f * total).
WEDLM_HOST_DEVICE inline uint64_t target_of(double f, uint64_t total) {
  return uint64_t(f * double(total));
}

}  // namespace wedlm::sample_rule
