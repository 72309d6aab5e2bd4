// First versions of the CUDA kernels: simple and correct (one block per row or per row and head),
// each checked against its host twin before anything is made faster. Attention has files of its
// own: cuda_attention_decode.cu (few rows a sequence), cuda_attention_tiled.cu (many).
#include "ops/cuda/cuda_kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "ops/cuda/cuda_check.h"
#include "ops/cuda/cuda_math.cuh"

namespace wedlm::cuda {
namespace {

constexpr int kThreads = 256;

// The sum over the block (blockDim.x a multiple of 32), returned to every thread.
__device__ float block_sum(float v) {
  __shared__ float part[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // `part` may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  return warp_sum(lane < n_warps ? part[lane] : 0.0f);
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

__global__ void embed_rows_k(const bf16_t* table, int64_t hidden, const int32_t* ids, bf16_t* out) {
  const bf16_t* src = table + int64_t(ids[blockIdx.x]) * hidden;
  bf16_t* dst = out + int64_t(blockIdx.x) * hidden;
  for (int64_t c = threadIdx.x; c < hidden; c += blockDim.x) dst[c] = src[c];
}

__global__ void rms_norm_k(const bf16_t* x, int64_t d, const bf16_t* w, float eps, bf16_t* y) {
  const bf16_t* xr = x + int64_t(blockIdx.x) * d;
  bf16_t* yr = y + int64_t(blockIdx.x) * d;
  float ss = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss += bf(xr[i]) * bf(xr[i]);
  const float inv = rsqrtf(block_sum(ss) / float(d) + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    yr[i] = to_bf(round_bf(bf(xr[i]) * inv) * bf(w[i]));
}

// Each thread adds its own elements twice (before and after the block's sum of squares) rather
// than keeping them: the same fp32 sums, no row-size limit; y aliasing x is safe (same thread, same
// element, read before written).
__global__ void add_rms_norm_k(const bf16_t* x, bf16_t* residual, int64_t d, const bf16_t* w,
                               float eps, bf16_t* y) {
  const int64_t base = int64_t(blockIdx.x) * d;
  float ss = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float s = bf(x[base + i]) + bf(residual[base + i]);
    ss += s * s;
  }
  const float inv = rsqrtf(block_sum(ss) / float(d) + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float s = bf(x[base + i]) + bf(residual[base + i]);
    residual[base + i] = to_bf(s);
    y[base + i] = to_bf(round_bf(s * inv) * bf(w[i]));
  }
}

// One block per (row, head); thread t < head_dim / 2 rotates the pair (t, t + head_dim/2), the
// others (the block is whole warps) only take part in the sum of squares.
__global__ void qk_norm_rope_k(bf16_t* q, bf16_t* k, int n_head, int n_kv_head, int head_dim,
                               const bf16_t* q_norm, const bf16_t* k_norm, float eps,
                               const int64_t* pos, const float* cos_sin) {
  const int64_t i = blockIdx.x;
  const int h = blockIdx.y, t = threadIdx.x, half = head_dim / 2;
  const bool is_q = h < n_head, active = t < half;
  bf16_t* x = is_q ? q + (i * n_head + h) * head_dim : k + (i * n_kv_head + h - n_head) * head_dim;
  const bf16_t* w = is_q ? q_norm : k_norm;
  float a = active ? bf(x[t]) : 0.0f, b = active ? bf(x[t + half]) : 0.0f;
  if (w != nullptr) {  // the same for the whole block
    const float inv = rsqrtf(block_sum(a * a + b * b) / float(head_dim) + eps);
    if (active) {
      a = round_bf(round_bf(a * inv) * bf(w[t]));
      b = round_bf(round_bf(b * inv) * bf(w[t + half]));
    }
  }
  if (!active) return;
  const float* cs = cos_sin + pos[i] * head_dim;
  const float c = cs[t], s = cs[half + t];
  x[t] = to_bf(a * c - b * s);
  x[t + half] = to_bf(b * c + a * s);
}

__global__ void store_kv_k(const bf16_t* k, const bf16_t* v, int64_t kv_dim, const int64_t* offsets,
                           bf16_t* k_cache, bf16_t* v_cache) {
  const int64_t i = blockIdx.x, at = offsets[i];
  for (int64_t c = threadIdx.x; c < kv_dim; c += blockDim.x) {
    k_cache[at + c] = k[i * kv_dim + c];
    v_cache[at + c] = v[i * kv_dim + c];
  }
}

__global__ void silu_mul_k(const bf16_t* gate_up, int64_t n, int64_t ffn, bf16_t* out) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * ffn;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / ffn, c = idx % ffn;
    const float g = bf(gate_up[r * 2 * ffn + c]), u = bf(gate_up[r * 2 * ffn + ffn + c]);
    out[idx] = to_bf(round_bf(g / (1.0f + expf(-g))) * u);
  }
}

__global__ void add_bias_k(bf16_t* y, int64_t n, int64_t m, const bf16_t* bias) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < n * m;
       idx += int64_t(gridDim.x) * blockDim.x)
    y[idx] = to_bf(bf(y[idx]) + bf(bias[idx % m]));
}

// The larger value, the first index on ties.
__device__ inline void arg_max_merge(float& v, int& idx, float ov, int oidx) {
  if (ov > v || (ov == v && oidx < idx)) v = ov, idx = oidx;
}

__device__ inline float load(const bf16_t* p, int64_t i) { return bf(p[i]); }
__device__ inline float load(const float* p, int64_t i) { return p[i]; }

// Pass 1: the row's maximum (for a stable sum) and the argmax other than `banned`; pass 2: the
// sums of e^(z - max) and e^(z - max) (z - max).
template <class T>
__global__ void row_stats_k(const T* logits, int64_t vocab, int64_t banned, RowStats* stats) {
  const T* z = logits + int64_t(blockIdx.x) * vocab;
  float all = -INFINITY, mx = -INFINITY;
  int arg = int(vocab);
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) {
    const float v = load(z, j);
    all = fmaxf(all, v);
    if (j != banned) arg_max_merge(mx, arg, v, int(j));
  }
  for (int o = 16; o > 0; o >>= 1) {
    all = fmaxf(all, __shfl_xor_sync(0xffffffffu, all, o));
    arg_max_merge(mx, arg, __shfl_xor_sync(0xffffffffu, mx, o),
                  __shfl_xor_sync(0xffffffffu, arg, o));
  }
  __shared__ float wa[32], wv[32];
  __shared__ int wi[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
  if (lane == 0) wa[warp] = all, wv[warp] = mx, wi[warp] = arg;
  __syncthreads();
  all = wa[0], mx = wv[0], arg = wi[0];
  for (int w = 1; w < n_warps; ++w) all = fmaxf(all, wa[w]), arg_max_merge(mx, arg, wv[w], wi[w]);
  float se = 0, sez = 0;
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) {
    const float d = load(z, j) - all, e = expf(d);
    se += e;
    sez += e * d;
  }
  se = block_sum(se);
  sez = block_sum(sez);
  if (threadIdx.x == 0) stats[blockIdx.x] = RowStats{mx, all + logf(se), logf(se) - sez / se, arg};
}

}  // namespace

void embed_rows(const bf16_t* table, int64_t hidden, const int32_t* ids, int64_t n, bf16_t* out,
                void* stream) {
  if (n == 0) return;
  embed_rows_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(table, hidden, ids, out);
  check_launch("embed_rows");
}

void rms_norm(const bf16_t* x, int64_t n, int64_t d, const bf16_t* w, float eps, bf16_t* y,
              void* stream) {
  if (n == 0) return;
  rms_norm_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(x, d, w, eps, y);
  check_launch("rms_norm");
}

void add_rms_norm(const bf16_t* x, bf16_t* residual, int64_t n, int64_t d, const bf16_t* w,
                  float eps, bf16_t* y, void* stream) {
  if (n == 0) return;
  add_rms_norm_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(x, residual, d, w, eps, y);
  check_launch("add_rms_norm");
}

void qk_norm_rope(bf16_t* q, bf16_t* k, int64_t n, int64_t n_head, int64_t n_kv_head,
                  int64_t head_dim, const bf16_t* q_norm, const bf16_t* k_norm, float eps,
                  const int64_t* pos, const float* cos_sin, void* stream) {
  if (n == 0) return;
  WEDLM_CHECK(head_dim % 2 == 0 && head_dim <= 2048, "qk_norm_rope: head_dim even, <= 2048");
  const dim3 grid{unsigned(n), unsigned(n_head + n_kv_head)};
  const unsigned threads = unsigned((head_dim / 2 + 31) / 32 * 32);
  qk_norm_rope_k<<<grid, threads, 0, as_stream(stream)>>>(
      q, k, int(n_head), int(n_kv_head), int(head_dim), q_norm, k_norm, eps, pos, cos_sin);
  check_launch("qk_norm_rope");
}

void store_kv(const bf16_t* k, const bf16_t* v, int64_t n, int64_t kv_dim, const int64_t* offsets,
              bf16_t* k_cache, bf16_t* v_cache, void* stream) {
  if (n == 0) return;
  store_kv_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(k, v, kv_dim, offsets, k_cache,
                                                              v_cache);
  check_launch("store_kv");
}

void silu_mul(const bf16_t* gate_up, int64_t n, int64_t ffn, bf16_t* out, void* stream) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n * ffn + kThreads - 1) / kThreads, 65535);
  silu_mul_k<<<unsigned(blocks), kThreads, 0, as_stream(stream)>>>(gate_up, n, ffn, out);
  check_launch("silu_mul");
}

void add_bias(bf16_t* y, int64_t n, int64_t m, const bf16_t* bias, void* stream) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n * m + kThreads - 1) / kThreads, 65535);
  add_bias_k<<<unsigned(blocks), kThreads, 0, as_stream(stream)>>>(y, n, m, bias);
  check_launch("add_bias");
}

void row_stats(const bf16_t* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats,
               void* stream) {
  if (n == 0) return;
  row_stats_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(logits, vocab, banned, stats);
  check_launch("row_stats");
}

void row_stats(const float* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats,
               void* stream) {
  if (n == 0) return;
  row_stats_k<<<unsigned(n), kThreads, 0, as_stream(stream)>>>(logits, vocab, banned, stats);
  check_launch("row_stats");
}

}  // namespace wedlm::cuda
