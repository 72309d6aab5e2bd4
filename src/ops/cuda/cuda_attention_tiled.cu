// Attention 64 query rows at a time with tensor cores (FlashAttention-2's scheme): for prefills and
// other segments of many rows, where the one-block-per-row kernel re-reads every key per row.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cmath>

#include "core/check.h"
#include "ops/cuda/cuda_check.h"
#include "ops/cuda/cuda_kernels.h"

namespace wedlm::cuda {
namespace {

using namespace nvcuda;
using bf16 = __nv_bfloat16;
constexpr int kBr = 64, kBc = 64, kThreads = 128;  // 4 warps, 16 query rows each
// Row strides padded past a multiple of 128 bytes, so the 8 rows a WMMA load or store touches at
// once start in different banks (16 bytes apart) rather than all in bank 0.
template <int D>
constexpr int kLd = D + 8;     // Q, K, V rows (bf16)
constexpr int kLdP = kBc + 8;  // P rows (bf16)
constexpr int kLdS = kBc + 4;  // S rows (fp32)
template <int D>
constexpr int kLdO = D + 4;  // O rows (fp32)

template <int D>
constexpr size_t shared_bytes() {
  return size_t(3 * kBr * kLd<D> + kBr * kLdP) * sizeof(bf16) +         // Q, K, V tiles and P
         size_t(kBr * kLdS + kBr * kLdO<D> + 2 * kBr) * sizeof(float);  // S, O, row max and sum
}

// Q.K^T of this warp's 16 rows against the key tile, into its rows of S (raw scores).
template <int D>
__device__ void scores(const bf16* Qs, const bf16* Ks, float* Ss, int warp) {
  for (int nt = 0; nt < kBc / 16; ++nt) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int kk = 0; kk < D / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b;  // K^T
      wmma::load_matrix_sync(a, Qs + 16 * warp * kLd<D> + kk * 16, kLd<D>);
      wmma::load_matrix_sync(b, Ks + nt * 16 * kLd<D> + kk * 16, kLd<D>);
      wmma::mma_sync(acc, a, b, acc);
    }
    wmma::store_matrix_sync(Ss + 16 * warp * kLdS + nt * 16, acc, kLdS, wmma::mem_row_major);
  }
}

// Online softmax of the warp's 16 rows, one row at a time over the whole warp (lane l takes
// columns l and l + 32: consecutive words, no bank conflicts): P in bf16, the row's O rescaled,
// its max and sum updated. Rows at or past n_rows see no key and stay empty.
template <int D>
__device__ void softmax_rows(const float* Ss, bf16* Ps, float* Os, float* Ms, float* Ls, int warp,
                             int k0, const int32_t* n_keys, int n_rows, float scale) {
  const int lane = threadIdx.x % 32;
  for (int r = 16 * warp; r < 16 * warp + 16; ++r) {
    const int keys = r < n_rows ? n_keys[r] : 0;
    float s[2];
    for (int h = 0; h < 2; ++h) {
      const int c = lane + 32 * h;
      s[h] = k0 + c < keys ? Ss[r * kLdS + c] * scale : -INFINITY;
    }
    float mx = fmaxf(s[0], s[1]);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    const float m_old = Ms[r], m_new = fmaxf(m_old, mx);
    const float corr = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
    float sum = 0;
    for (int h = 0; h < 2; ++h) {
      const float p = s[h] == -INFINITY ? 0.0f : expf(s[h] - m_new);
      Ps[r * kLdP + lane + 32 * h] = __float2bfloat16(p);
      sum += p;
    }
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    for (int d = lane; d < D; d += 32) Os[r * kLdO<D> + d] *= corr;
    __syncwarp();  // every lane has read Ms[r]
    if (lane == 0) Ms[r] = m_new, Ls[r] = Ls[r] * corr + sum;
  }
}

// O of this warp's 16 rows += P.V over the key tile.
template <int D>
__device__ void accumulate(const bf16* Ps, const bf16* Vs, float* Os, int warp) {
  for (int dt = 0; dt < D / 16; ++dt) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::load_matrix_sync(acc, Os + 16 * warp * kLdO<D> + dt * 16, kLdO<D>, wmma::mem_row_major);
    for (int kk = 0; kk < kBc / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> b;
      wmma::load_matrix_sync(a, Ps + 16 * warp * kLdP + kk * 16, kLdP);
      wmma::load_matrix_sync(b, Vs + kk * 16 * kLd<D> + dt * 16, kLd<D>);
      wmma::mma_sync(acc, a, b, acc);
    }
    wmma::store_matrix_sync(Os + 16 * warp * kLdO<D> + dt * 16, acc, kLdO<D>, wmma::mem_row_major);
  }
}

// One block per (tile, head): the tile's rows are consecutive rows of one sequence.
template <int D>
__global__ void __launch_bounds__(kThreads)
    attention_tiled_k(const bf16* q, int n_head, int n_kv_head, AttentionRows rows,
                      const AttentionTile* tiles, const bf16* k_cache, const bf16* v_cache,
                      bf16* out, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem);
  bf16* Ks = Qs + kBr * kLd<D>;
  bf16* Vs = Ks + kBc * kLd<D>;
  bf16* Ps = Vs + kBc * kLd<D>;
  float* Ss = reinterpret_cast<float*>(Ps + kBr * kLdP);
  float* Os = Ss + kBr * kLdS;
  float* Ms = Os + kBr * kLdO<D>;
  float* Ls = Ms + kBr;
  const AttentionTile t = tiles[blockIdx.x];
  const int h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t kv_dim = int64_t(n_kv_head) * D, kv_off = int64_t(h / (n_head / n_kv_head)) * D;
  for (int i = threadIdx.x; i < kBr * D; i += kThreads) {
    const int r = i / D, c = i % D;
    Qs[r * kLd<D> + c] =
        r < t.n ? q[(int64_t(t.row0 + r) * n_head + h) * D + c] : __float2bfloat16(0.0f);
    Os[r * kLdO<D> + c] = 0;
  }
  for (int r = threadIdx.x; r < kBr; r += kThreads) Ms[r] = -INFINITY, Ls[r] = 0;
  const int32_t* table = rows.block_tables + rows.table_start[t.row0];
  const int64_t bs = rows.block_size;
  const int max_keys = rows.n_keys[t.row0 + t.n - 1];  // the tile's last row sees the most
  for (int k0 = 0; k0 < max_keys; k0 += kBc) {
    __syncthreads();  // the previous tile's K, V and P are no longer read
    for (int i = threadIdx.x; i < kBc * D; i += kThreads) {
      const int j = i / D, c = i % D, key = k0 + j;
      bf16 kv = __float2bfloat16(0.0f), vv = kv;
      if (key < max_keys) {
        const int64_t at =
            int64_t(table[key / bs]) * rows.block_stride + (key % bs) * kv_dim + kv_off + c;
        kv = k_cache[at], vv = v_cache[at];
      }
      Ks[j * kLd<D> + c] = kv, Vs[j * kLd<D> + c] = vv;
    }
    __syncthreads();
    scores<D>(Qs, Ks, Ss, warp);
    __syncwarp();
    softmax_rows<D>(Ss, Ps, Os, Ms, Ls, warp, k0, rows.n_keys + t.row0, t.n, scale);
    __syncwarp();
    accumulate<D>(Ps, Vs, Os, warp);
  }
  __syncwarp();
  for (int rr = 16 * warp; rr < 16 * warp + 16 && rr < t.n; ++rr)
    for (int d = lane; d < D; d += 32)
      out[(int64_t(t.row0 + rr) * n_head + h) * D + d] =
          __float2bfloat16(Os[rr * kLdO<D> + d] / Ls[rr]);
}

template <int D>
void launch(const bf16_t* q, int64_t n_head, int64_t n_kv_head, const AttentionRows& rows,
            const AttentionTile* tiles, int64_t n_tiles, const bf16_t* k_cache,
            const bf16_t* v_cache, bf16_t* out, void* stream) {
  static const bool attr = [] {  // more than 48 KB of shared memory: opted in once
    WEDLM_CUDA(cudaFuncSetAttribute(
        attention_tiled_k<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes<D>())));
    return true;
  }();
  (void)attr;
  const dim3 grid{unsigned(n_tiles), unsigned(n_head)};
  attention_tiled_k<D><<<grid, kThreads, shared_bytes<D>(), static_cast<cudaStream_t>(stream)>>>(
      reinterpret_cast<const bf16*>(q), int(n_head), int(n_kv_head), rows, tiles,
      reinterpret_cast<const bf16*>(k_cache), reinterpret_cast<const bf16*>(v_cache),
      reinterpret_cast<bf16*>(out), 1.0f / std::sqrt(float(D)));
  check_launch("attention_tiled");
}

}  // namespace

void attention_tiled(const bf16_t* q, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                     const AttentionRows& rows, const AttentionTile* tiles, int64_t n_tiles,
                     const bf16_t* k_cache, const bf16_t* v_cache, bf16_t* out, void* stream) {
  if (n_tiles == 0) return;
  if (head_dim == 64)
    return launch<64>(q, n_head, n_kv_head, rows, tiles, n_tiles, k_cache, v_cache, out, stream);
  WEDLM_CHECK(head_dim == 128, "attention_tiled: head_dim 64 or 128");
  launch<128>(q, n_head, n_kv_head, rows, tiles, n_tiles, k_cache, v_cache, out, stream);
}

}  // namespace wedlm::cuda
