// sample_rows: a row's token drawn under top-k, top-p and temperature on the device, one block a
// row, by ops/sampling/sample_rule.h (the host's sample_row is its twin). Each search for "the
// first candidate at which a running sum of masses exceeds a target" is four passes over the row,
// one byte of the order key each, summing masses per byte value with integer atomics in shared
// memory (exact in any order, so the result does not depend on the schedule), then one pass over
// the candidates of the one logit value left, in id order (contiguous chunks per thread, a scan of
// the chunks' sums; one pass when the value is one id's, as it nearly always is). A row of 151936
// logits is read from L2 about a dozen times. The masses of a pass fall into a few byte values
// (the first byte is the sign and most of the exponent), so each group of warps adds into its
// own copy of the histogram, to spread the atomics over kHistCopies addresses.
#include "ops/cuda/cuda_kernels.h"

#include <cuda_runtime.h>

#include <climits>

#include "ops/cuda/cuda_check.h"
#include "ops/sampling/sample_rule.h"

namespace wedlm::cuda {
namespace {

namespace rule = wedlm::sample_rule;
using u64 = unsigned long long;

constexpr int kSampleThreads = 512;
constexpr int kHistCopies = 8;

struct Shared {
  u64 hist[kHistCopies][256];
  u64 part[kSampleThreads];
  u64 rem;
  int digit;
  int owner;
  int tie_count;  // candidates of the key left after the byte passes, and the first one's id
  int tie_first;
  uint32_t cut_key;  // the crossing (rule::Cut: plain fields, as __shared__ wants)
  int32_t cut_id;
  float max[kSampleThreads / 32];
  int arg[kSampleThreads / 32];
  int count[kSampleThreads / 32];
};

// A candidate's mass in one search: 1 (top-k counts), else mass_of at `temperature`.
struct Mass {
  bool count = false;
  float mx = 0, temperature = 1;
  __device__ u64 operator()(float x) const {
    return count ? 1ull : u64(rule::mass_of(x, mx, temperature));
  }
};

// The row's view in one search: its candidates that `lo` keeps.
struct Row {
  const float* z;
  int64_t vocab, banned;
  rule::Cut lo;
  __device__ bool kept(float x, int64_t j, uint32_t& key) const {
    if (!rule::candidate(x, j, banned)) return false;
    key = rule::order_key(x);
    return lo.keeps(key, j);
  }
};

// The sum of every thread's `v`, returned to every thread (integer: exact in any order).
__device__ u64 block_total(u64 v, Shared& sh) {
  sh.part[threadIdx.x] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    u64 t = 0;
    for (int i = 0; i < int(blockDim.x); ++i) t += sh.part[i];
    sh.rem = t;
  }
  __syncthreads();
  const u64 t = sh.rem;
  __syncthreads();  // sh.rem and sh.part are reused next
  return t;
}

__device__ u64 total_mass(const Row& r, Mass m, Shared& sh) {
  u64 sum = 0;
  uint32_t key;
  for (int64_t j = threadIdx.x; j < r.vocab; j += blockDim.x)
    if (r.kept(r.z[j], j, key)) sum += m(r.z[j]);
  return block_total(sum, sh);
}

// The byte passes: narrows `prefix` to one key; false when the whole mass does not exceed target.
__device__ bool narrow_key(const Row& r, Mass m, u64 target, uint32_t& prefix, Shared& sh) {
  uint32_t mask = 0;
  if (threadIdx.x == 0) sh.rem = target;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < kHistCopies * 256; i += blockDim.x) sh.hist[i / 256][i % 256] = 0;
    __syncthreads();
    u64* hist = sh.hist[(threadIdx.x / 32) % kHistCopies];
    uint32_t key;
    for (int64_t j = threadIdx.x; j < r.vocab; j += blockDim.x) {
      const float x = r.z[j];
      if (!r.kept(x, j, key) || (key & mask) != prefix) continue;
      if (const u64 w = m(x)) atomicAdd(&hist[(key >> shift) & 255u], w);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 256; i += blockDim.x)  // fold the copies into the first
      for (int c = 1; c < kHistCopies; ++c) sh.hist[0][i] += sh.hist[c][i];
    __syncthreads();
    if (threadIdx.x == 0) {
      u64 rem = sh.rem;
      int d = 255;
      while (d >= 0 && rem >= sh.hist[0][d]) rem -= sh.hist[0][d--];
      sh.rem = rem;
      sh.digit = d;
    }
    __syncthreads();
    const int d = sh.digit;
    __syncthreads();  // every thread has read it before thread 0 writes the next
    if (d < 0) return false;
    prefix |= uint32_t(d) << shift;
    mask |= 0xffu << shift;
  }
  return true;
}

// The first candidate in the order whose running mass exceeds `target`, into sh.cut_*; false when
// there is none. Every thread of the block calls it.
__device__ bool crossing(const Row& r, Mass m, u64 target, Shared& sh) {
  uint32_t prefix = 0;
  if (!narrow_key(r, m, target, prefix, sh)) return false;
  if (threadIdx.x == 0) sh.tie_count = 0, sh.tie_first = INT_MAX;
  __syncthreads();
  uint32_t key;
  for (int64_t j = threadIdx.x; j < r.vocab; j += blockDim.x)  // the key's candidates of mass > 0
    if (r.kept(r.z[j], j, key) && key == prefix && m(r.z[j]) > 0) {
      atomicAdd(&sh.tie_count, 1);
      atomicMin(&sh.tie_first, int(j));
    }
  __syncthreads();
  if (sh.tie_count == 1) {  // one id: it is the crossing
    const int32_t id = sh.tie_first;
    __syncthreads();  // read by all before thread 0 writes the cut
    if (threadIdx.x == 0) sh.cut_key = prefix, sh.cut_id = id;
    __syncthreads();
    return true;
  }
  // ties: in id order, contiguous chunks, the chunk sums scanned
  const int64_t chunk = (r.vocab + blockDim.x - 1) / blockDim.x;
  const int64_t begin = threadIdx.x * chunk, end = min(r.vocab, begin + chunk);
  u64 mine = 0;
  for (int64_t j = begin; j < end; ++j)
    if (r.kept(r.z[j], j, key) && key == prefix) mine += m(r.z[j]);
  sh.part[threadIdx.x] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    u64 rem = sh.rem;
    int t = 0;
    while (t + 1 < int(blockDim.x) && rem >= sh.part[t]) rem -= sh.part[t++];
    sh.owner = t;
    sh.rem = rem;
  }
  __syncthreads();
  if (int(threadIdx.x) == sh.owner) {
    u64 rem = sh.rem;
    for (int64_t j = begin; j < end; ++j) {
      if (!r.kept(r.z[j], j, key) || key != prefix) continue;
      const u64 w = m(r.z[j]);
      if (rem < w) {
        sh.cut_key = prefix, sh.cut_id = int32_t(j);
        break;
      }
      rem -= w;
    }
  }
  __syncthreads();
  return true;
}

// The candidates' largest logit, its first id, and how many candidates there are.
__device__ void row_max(const Row& r, float& mx, int& arg, int64_t& count, Shared& sh) {
  mx = -INFINITY, arg = INT_MAX;
  int n = 0;
  for (int64_t j = threadIdx.x; j < r.vocab; j += blockDim.x) {
    const float x = r.z[j];
    if (!rule::candidate(x, j, r.banned)) continue;
    ++n;
    if (x > mx || (x == mx && int(j) < arg)) mx = x, arg = int(j);
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float om = __shfl_xor_sync(0xffffffffu, mx, o);
    const int oa = __shfl_xor_sync(0xffffffffu, arg, o);
    n += __shfl_xor_sync(0xffffffffu, n, o);
    if (om > mx || (om == mx && oa < arg)) mx = om, arg = oa;
  }
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 == 0) sh.max[warp] = mx, sh.arg[warp] = arg, sh.count[warp] = n;
  __syncthreads();
  mx = sh.max[0], arg = sh.arg[0], count = sh.count[0];
  for (int w = 1; w < int(blockDim.x / 32); ++w) {
    count += sh.count[w];
    if (sh.max[w] > mx || (sh.max[w] == mx && sh.arg[w] < arg)) mx = sh.max[w], arg = sh.arg[w];
  }
  __syncthreads();
}

__device__ int32_t sample_one(const Row& row, const RowDraw& d, Shared& sh) {
  float mx;
  int arg;
  int64_t count;
  row_max(row, mx, arg, count, sh);
  if (count == 0)  // as row_argmax: the first id not banned
    return row.banned == 0 ? (row.vocab > 1 ? 1 : -1) : (row.vocab > 0 ? 0 : -1);
  if (d.temperature <= 0) return arg;
  Row r = row;
  if (d.top_k > 0 && d.top_k < count) {
    crossing(r, Mass{true}, u64(d.top_k - 1), sh);
    r.lo = rule::Cut{sh.cut_key, INT32_MAX};  // ties of the k-th survive
  }
  if (d.top_p < 1) {
    const Mass at_1{false, mx, 1.0f};
    const u64 total = total_mass(r, at_1, sh);
    if (crossing(r, at_1, rule::target_of(d.top_p, total), sh))
      r.lo = rule::Cut{sh.cut_key, sh.cut_id};
  }
  const Mass at_t{false, mx, float(d.temperature)};
  const u64 total = total_mass(r, at_t, sh);
  if (total == 0) return arg;
  const u64 t = rule::target_of(d.u, total);
  crossing(r, at_t, t < total ? t : total - 1, sh);
  return sh.cut_id;
}

__global__ void sample_rows_k(const float* logits, int64_t vocab, const RowDraw* draws,
                              int32_t* tokens) {
  __shared__ Shared sh;
  const RowDraw d = draws[blockIdx.x];
  const Row row{logits + int64_t(blockIdx.x) * vocab, vocab, d.banned, rule::Cut{}};
  const int32_t token = sample_one(row, d, sh);
  if (threadIdx.x == 0) tokens[blockIdx.x] = token;
}

}  // namespace

void sample_rows(const float* logits, int64_t n, int64_t vocab, const RowDraw* draws,
                 int32_t* tokens, void* stream) {
  if (n == 0) return;
  sample_rows_k<<<unsigned(n), kSampleThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      logits, vocab, draws, tokens);
  check_launch("sample_rows");
}

}  // namespace wedlm::cuda
