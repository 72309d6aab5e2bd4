// Attention for decode steps and other segments of few rows (cuda_kernels.h, attention()).
//
// One block per (group of a sequence's consecutive rows, KV head, run of keys) serves every query
// row of the group and every query head reading that KV head: a WeDLM step of 17 rows on the 8B
// shape (4 query heads a KV head) is 68 query vectors in one block, so each key and value is read
// from memory once per step and KV head rather than once per (row, query head). Keys come in tiles
// of 32, staged in shared memory (K rows at an odd word stride: the score phase's lanes, one key
// each, hit 32 different banks); the score phase gives a warp 4 query vectors at a time (one K
// read for four FMAs); the P.V phase gives each thread one pair of output dimensions of up to 32
// query vectors, accumulated in registers. fp32 throughout, bf16 out, online softmax as
// FlashAttention does; when blocks are few the keys are split into runs whose states a second
// kernel merges (attention_splits picks the count from the device's multiprocessors).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "ops/cuda/cuda_check.h"
#include "ops/cuda/cuda_kernels.h"
#include "ops/cuda/cuda_math.cuh"

namespace wedlm::cuda {
namespace {

constexpr int kKeys = 32;      // keys a tile: one a lane in the score phase
constexpr int kThreads = 256;  // 8 warps
constexpr int kWarps = kThreads / 32;
constexpr int kMaxQueries = 128;  // query vectors (group rows x query heads) a block
constexpr int kSlots = 32;        // query vectors a thread accumulates in the P.V phase
constexpr int kScoreBlock = 4;    // query vectors a warp scores together
constexpr int kPStride = kKeys + 1;
constexpr int kMaxRuns = 32;

// Where each array sits in the block's shared memory, in 32-bit words, for head_dim D.
struct Layout {
  int pairs;     // D / 2: a word holds two bf16
  int k_stride;  // words from one key's K row to the next (odd)
  int groups;    // threads sharing one output pair in the P.V phase: kThreads / pairs
  int cap;       // query vectors a block takes
  int q, k, v, p, m, l, c, nk, words;
  __host__ __device__ explicit Layout(int D)
      : pairs(D / 2),
        k_stride((D / 2) | 1),
        groups(kThreads / (D / 2)),
        cap(groups * kSlots < kMaxQueries ? groups * kSlots : kMaxQueries) {
    q = 0;
    k = q + cap * pairs;
    v = k + kKeys * k_stride;
    p = v + kKeys * pairs;
    m = p + cap * kPStride;
    l = m + cap;
    c = l + cap;
    nk = c + cap;
    words = nk + cap;
  }
};

size_t largest_shared_bytes() {
  int words = 0;
  for (int d = 2; d <= 256; d += 2) words = std::max(words, Layout(d).words);
  return size_t(words) * 4;
}

__device__ inline int64_t kv_at(const AttentionRows& rows, const int32_t* table, int j,
                                int64_t kv_dim, int64_t kv_off) {
  return int64_t(table[j / rows.block_size]) * rows.block_stride + (j % rows.block_size) * kv_dim +
         kv_off;
}

// Keys [k0, k0 + kKeys) of the run ending at k_end into Ks and Vs; keys past k_end as zeros.
__device__ void stage_tile(const Layout& L, const AttentionRows& rows, const int32_t* table, int k0,
                           int k_end, int64_t kv_dim, int64_t kv_off, const bf16_t* k_cache,
                           const bf16_t* v_cache, uint32_t* Ks, uint32_t* Vs) {
  for (int idx = threadIdx.x; idx < kKeys * L.pairs; idx += kThreads) {
    const int key = idx / L.pairs, p = idx % L.pairs, j = k0 + key;
    uint32_t kw = 0, vw = 0;
    if (j < k_end) {
      const int64_t at = kv_at(rows, table, j, kv_dim, kv_off);
      kw = reinterpret_cast<const uint32_t*>(k_cache + at)[p];
      vw = reinterpret_cast<const uint32_t*>(v_cache + at)[p];
    }
    Ks[key * L.k_stride + p] = kw;
    Vs[key * L.pairs + p] = vw;
  }
}

// Scores of the tile's keys (lane = key) for the warp's query vectors, then their online softmax:
// P (probabilities against the new max), each vector's correction of its older sums, max and sum.
__device__ void score_tile(const Layout& L, const uint32_t* Qs, const uint32_t* Ks, int NQ, int k0,
                           int k_end, float scale, float* Ps, float* Ms, float* Ls, float* Cs,
                           const int* Nk) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint32_t* kr = Ks + lane * L.k_stride;
  for (int v0 = warp * kScoreBlock; v0 < NQ; v0 += kWarps * kScoreBlock) {
    float s[kScoreBlock] = {};
    for (int p = 0; p < L.pairs; ++p) {
      const float2 k = bf_pair(kr[p]);
#pragma unroll
      for (int i = 0; i < kScoreBlock; ++i) {
        const float2 q = bf_pair(Qs[min(v0 + i, NQ - 1) * L.pairs + p]);  // past NQ: unused
        s[i] += q.x * k.x + q.y * k.y;
      }
    }
#pragma unroll
    for (int i = 0; i < kScoreBlock; ++i) {
      const int v = v0 + i, j = k0 + lane;
      if (v >= NQ) break;  // the same for the whole warp
      const float sc = j < k_end && j < Nk[v] ? s[i] * scale : -INFINITY;
      const float m_old = Ms[v], m_new = fmaxf(m_old, warp_max(sc));
      const float pr = m_new == -INFINITY ? 0.0f : expf(sc - m_new);
      const float corr = m_new == -INFINITY ? 1.0f : expf(m_old - m_new);
      const float sum = warp_sum(pr);
      Ps[v * kPStride + lane] = pr;
      __syncwarp();  // every lane has read Ms[v]
      if (lane == 0) Ms[v] = m_new, Ls[v] = Ls[v] * corr + sum, Cs[v] = corr;
    }
  }
}

// acc (this thread's pair of dimensions of query vectors qg, qg + groups, ...) rescaled by the
// tile's corrections and += P.V over its n keys.
__device__ void accumulate_tile(const Layout& L, const float* Ps, const uint32_t* Vs,
                                const float* Cs, int NQ, int n, int qg, int pair,
                                float2 (&acc)[kSlots]) {
#pragma unroll
  for (int i = 0; i < kSlots; ++i) {
    const int v = qg + i * L.groups;
    if (v >= NQ) break;
    acc[i].x *= Cs[v], acc[i].y *= Cs[v];
  }
  for (int key = 0; key < n; ++key) {
    const float2 val = bf_pair(Vs[key * L.pairs + pair]);
#pragma unroll
    for (int i = 0; i < kSlots; ++i) {
      const int v = qg + i * L.groups;
      if (v >= NQ) break;
      const float pr = Ps[v * kPStride + key];
      acc[i].x += pr * val.x, acc[i].y += pr * val.y;
    }
  }
}

__global__ void __launch_bounds__(kThreads, 2)  // two blocks an SM, as attention_splits counts
    attention_decode_k(const bf16_t* q, int n_head, int n_kv_head, int D, AttentionRows rows,
                       const AttentionTile* groups, const bf16_t* k_cache, const bf16_t* v_cache,
                       bf16_t* out, float scale, float* work) {
  extern __shared__ uint32_t smem[];
  const Layout L(D);
  uint32_t *Qs = smem + L.q, *Ks = smem + L.k, *Vs = smem + L.v;
  float *Ps = reinterpret_cast<float*>(smem + L.p), *Ms = reinterpret_cast<float*>(smem + L.m);
  float *Ls = reinterpret_cast<float*>(smem + L.l), *Cs = reinterpret_cast<float*>(smem + L.c);
  int* Nk = reinterpret_cast<int*>(smem + L.nk);
  const AttentionTile g = groups[blockIdx.x];
  const int kvh = blockIdx.y, run = blockIdx.z, n_run = gridDim.z, G = n_head / n_kv_head;
  const int NQ = g.n * G;  // query vector v: row g.row0 + v / G, query head kvh * G + v % G
  const auto q_head = [&](int v) { return (int64_t(g.row0) + v / G) * n_head + kvh * G + v % G; };
  for (int idx = threadIdx.x; idx < NQ * L.pairs; idx += kThreads)
    Qs[idx] = reinterpret_cast<const uint32_t*>(q + q_head(idx / L.pairs) * D)[idx % L.pairs];
  for (int v = threadIdx.x; v < NQ; v += kThreads)
    Nk[v] = rows.n_keys[g.row0 + v / G], Ms[v] = -INFINITY, Ls[v] = 0;
  __syncthreads();
  int max_keys = 0;
  for (int v = 0; v < NQ; v += G) max_keys = max(max_keys, Nk[v]);
  const int n_tiles = (max_keys + kKeys - 1) / kKeys, per_run = (n_tiles + n_run - 1) / n_run;
  const int k_begin = run * per_run * kKeys, k_end = min(max_keys, k_begin + per_run * kKeys);
  const int32_t* table = rows.block_tables + rows.table_start[g.row0];
  const int64_t kv_dim = int64_t(n_kv_head) * D, kv_off = int64_t(kvh) * D;
  const int pair = threadIdx.x % L.pairs, qg = threadIdx.x / L.pairs;
  float2 acc[kSlots];
#pragma unroll
  for (int i = 0; i < kSlots; ++i) acc[i] = make_float2(0.0f, 0.0f);
  for (int k0 = k_begin; k0 < k_end; k0 += kKeys) {
    stage_tile(L, rows, table, k0, k_end, kv_dim, kv_off, k_cache, v_cache, Ks, Vs);
    __syncthreads();
    score_tile(L, Qs, Ks, NQ, k0, k_end, scale, Ps, Ms, Ls, Cs, Nk);
    __syncthreads();
    if (qg < L.groups) accumulate_tile(L, Ps, Vs, Cs, NQ, min(kKeys, k_end - k0), qg, pair, acc);
    __syncthreads();  // the next tile rewrites K, V and P
  }
  if (qg >= L.groups) return;
#pragma unroll
  for (int i = 0; i < kSlots; ++i) {
    const int v = qg + i * L.groups;
    if (v >= NQ) break;
    const int64_t qh = q_head(v);
    if (n_run == 1) {  // every row sees a key of the only run: Ls[v] > 0
      out[qh * D + 2 * pair] = to_bf(acc[i].x / Ls[v]);
      out[qh * D + 2 * pair + 1] = to_bf(acc[i].y / Ls[v]);
      continue;
    }
    float* state = work + (qh * n_run + run) * (2 + D);  // a run without keys: sum 0
    if (pair == 0) state[0] = Ms[v], state[1] = Ls[v];
    state[2 + 2 * pair] = acc[i].x, state[3 + 2 * pair] = acc[i].y;
  }
}

// One block per (group, query head, row of the group), one thread per dimension: the row's runs
// merged as the runs of a softmax are (rescaled to the largest max; runs that saw no key add
// nothing). The runs' maxima and sums are read by one warp at once (n_run <= 32).
__global__ void attention_merge_k(const float* work, const AttentionTile* groups, int n_head,
                                  int n_run, int D, bf16_t* out) {
  const AttentionTile g = groups[blockIdx.x];
  if (int(blockIdx.z) >= g.n) return;
  const int64_t qh = (int64_t(g.row0) + blockIdx.z) * n_head + blockIdx.y;
  const float* s = work + qh * n_run * (2 + D);
  __shared__ float scale[kMaxRuns];  // each run's factor exp(max - largest max), 0 if empty
  __shared__ float total;
  if (threadIdx.x < 32) {
    const int k = threadIdx.x;
    const float m = k < n_run && s[k * (2 + D) + 1] > 0 ? s[k * (2 + D)] : -INFINITY;
    const float mx = warp_max(m);
    const float f = m == -INFINITY ? 0.0f : expf(m - mx);
    if (k < n_run) scale[k] = f;
    const float t = warp_sum(k < n_run ? f * s[k * (2 + D) + 1] : 0.0f);
    if (k == 0) total = t;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0;
    for (int k = 0; k < n_run; ++k)
      if (scale[k] > 0) o += s[k * (2 + D) + 2 + d] * scale[k];
    out[qh * D + d] = to_bf(o / total);
  }
}

}  // namespace

int attention_group_rows(int64_t n_head, int64_t n_kv_head, int64_t head_dim) {
  WEDLM_CHECK(head_dim >= 2 && head_dim <= 256 && head_dim % 2 == 0 && n_kv_head > 0 &&
                  n_head % n_kv_head == 0,
              "attention: head_dim even and <= 256, query heads a multiple of the KV heads");
  return int(Layout(int(head_dim)).cap / (n_head / n_kv_head));
}

int attention_splits(int64_t n_blocks, int64_t max_keys, int64_t max_queries,
                     int n_multiprocessors) {
  const int64_t target = 2 * int64_t(std::max(n_multiprocessors, 1));  // two blocks an SM
  if (n_blocks <= 0 || n_blocks >= target) return 1;
  const int64_t want = (target + n_blocks - 1) / n_blocks;
  // a run's saved state (queries x (2 + D) floats, written and read back) should not outweigh
  // the keys it reads (tiles x 32 x D x 2 bf16): a tile a run for each 32 query vectors
  const int64_t per_run = std::max<int64_t>(1, (max_queries + 31) / 32);
  const int64_t runs_of_keys = (max_keys + kKeys - 1) / kKeys / per_run;
  return int(std::max<int64_t>(1, std::min<int64_t>({want, runs_of_keys, kMaxRuns})));
}

int64_t attention_work_floats(int64_t n_rows, int64_t n_head, int64_t head_dim, int n_split) {
  return n_split > 1 ? n_rows * n_head * n_split * (2 + head_dim) : 0;
}

void attention(const bf16_t* q, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
               const AttentionRows& rows, const AttentionTile* groups, int64_t n_groups,
               const bf16_t* k_cache, const bf16_t* v_cache, bf16_t* out, void* stream,
               AttentionSplit split) {
  if (n_groups == 0) return;
  WEDLM_CHECK(attention_group_rows(n_head, n_kv_head, head_dim) >= 1,
              "attention: more query heads a KV head than a block takes");
  WEDLM_CHECK(split.n >= 1 && split.n <= kMaxRuns && (split.n == 1 || split.work != nullptr),
              "attention: a split needs its workspace, and at most 32 runs");
  // bf16 pairs are read as 32-bit words: every row and block must start at an even element
  WEDLM_CHECK(rows.block_stride % 2 == 0 && reinterpret_cast<uintptr_t>(q) % 4 == 0 &&
                  reinterpret_cast<uintptr_t>(k_cache) % 4 == 0 &&
                  reinterpret_cast<uintptr_t>(v_cache) % 4 == 0,
              "attention: q, the caches and the block stride must be 4-byte aligned");
  static const bool opted_in = [] {  // more than 48 KB of shared memory: opted in once
    WEDLM_CUDA(cudaFuncSetAttribute(attention_decode_k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    int(largest_shared_bytes())));
    return true;
  }();
  (void)opted_in;
  const int D = int(head_dim);
  const size_t bytes = size_t(Layout(D).words) * 4;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const dim3 grid{unsigned(n_groups), unsigned(n_kv_head), unsigned(split.n)};
  attention_decode_k<<<grid, kThreads, bytes, s>>>(q, int(n_head), int(n_kv_head), D, rows, groups,
                                                   k_cache, v_cache, out,
                                                   1.0f / std::sqrt(float(D)), split.work);
  check_launch("attention");
  if (split.n == 1) return;
  const unsigned group_rows = unsigned(attention_group_rows(n_head, n_kv_head, head_dim));
  attention_merge_k<<<dim3{unsigned(n_groups), unsigned(n_head), group_rows},
                      unsigned(std::max(32, std::min(D, 256))), 0, s>>>(
      split.work, groups, int(n_head), split.n, D, out);
  check_launch("attention_merge");
}

}  // namespace wedlm::cuda
