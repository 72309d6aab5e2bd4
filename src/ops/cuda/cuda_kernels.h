// The CUDA backend's own kernels, launched asynchronously on `stream` (nullptr: the default
// stream). All pointers are device pointers. Activations are bf16 with fp32 arithmetic inside each
// kernel, rounding where the reference engine rounds (wedlm-spec.md §1.1); each kernel has a host
// twin of the same semantics in cuda_reference.h, and tests/cpp/test_cuda_kernels.cpp compares
// them.
#pragma once

#include <cstdint>

#include "ops/cuda/cuda_device.h"
#include "ops/sampling/row_draw.h"

namespace wedlm::cuda {

// out[i, :] = table[ids[i], :] for n rows of `hidden` elements.
void embed_rows(const bf16_t* table, int64_t hidden, const int32_t* ids, int64_t n, bf16_t* out,
                void* stream);

// y[i] = bf16(bf16(x[i] * rsqrt(mean(x[i]^2) + eps)) * w), for n rows of d (fp32 inside).
// y may alias x.
void rms_norm(const bf16_t* x, int64_t n, int64_t d, const bf16_t* w, float eps, bf16_t* y,
              void* stream);

// The reference's AddRMSNorm: s = x + residual in fp32, residual = bf16(s), y = RMSNorm of the
// fp32 s as above. y may alias x; residual is updated in place.
void add_rms_norm(const bf16_t* x, bf16_t* residual, int64_t n, int64_t d, const bf16_t* w,
                  float eps, bf16_t* y, void* stream);

// In place, per head of q [n, n_head, head_dim] and k [n, n_kv_head, head_dim]: RMSNorm over
// head_dim with q_norm / k_norm (skipped when null: the Qwen2 family), then NeoX rotate-half RoPE
// at position pos[i] from `cos_sin` [max_pos, head_dim] (cos in the first half, sin in the second,
// fp32; see rope_table in cuda_reference.h). Positions must be < max_pos (checked by the caller).
void qk_norm_rope(bf16_t* q, bf16_t* k, int64_t n, int64_t n_head, int64_t n_kv_head,
                  int64_t head_dim, const bf16_t* q_norm, const bf16_t* k_norm, float eps,
                  const int64_t* pos, const float* cos_sin, void* stream);

// k_cache[offsets[i] + c] = k[i, c] and likewise v, for rows of kv_dim elements: offsets[i] is the
// element offset of row i's slot in this layer's view of the paged pool (the same for K and V).
void store_kv(const bf16_t* k, const bf16_t* v, int64_t n, int64_t kv_dim, const int64_t* offsets,
              bf16_t* k_cache, bf16_t* v_cache, void* stream);

// Where each query row's keys are: row i sees the logical slots [0, n_keys[i]) of its sequence,
// whose block table starts at block_tables[table_start[i]]; logical slot s of that sequence is at
// element table[s / block_size] * block_stride + (s % block_size) * kv_dim of the layer's cache
// (ops.h KvLayerView's layout).
struct AttentionRows {
  const int32_t* n_keys = nullptr;       // [n]
  const int32_t* table_start = nullptr;  // [n]
  const int32_t* block_tables = nullptr;
  int64_t block_size = 0;
  int64_t block_stride = 0;  // elements from one block to the next
};

// Consecutive query rows of one sequence, [row0, row0 + n): a group for attention() (at most
// attention_group_rows() rows) or a tile for attention_tiled() (at most 64).
struct AttentionTile {
  int32_t row0 = 0;
  int32_t n = 0;
};

// attention() split over the keys, for few blocks over long contexts (a WeDLM or AR step at small
// batch): each block's keys are cut into n runs of whole 32-key tiles, each run's softmax state
// (max, sum, unnormalised output, fp32) computed by a block of its own into `work`, then merged by
// a second kernel. n = 1: `work` unused.
struct AttentionSplit {
  int n = 1;
  float* work = nullptr;  // attention_work_floats() floats on the device
};
// The split the forward uses for `n_blocks` blocks (groups x KV heads) whose longest row sees
// `max_keys` keys, with at most `max_queries` query vectors a block (group rows x query heads a
// KV head), on a device of `n_multiprocessors`: enough runs for two blocks a multiprocessor, but
// a 32-key tile a run for each 32 query vectors (a run's saved state is that large), at most 32
// runs; 1 when the blocks fill the device.
int attention_splits(int64_t n_blocks, int64_t max_keys, int64_t max_queries,
                     int n_multiprocessors);
int64_t attention_work_floats(int64_t n_rows, int64_t n_head, int64_t head_dim, int n_split);
// The most rows a group may have: a block takes up to 128 query vectors (rows x query heads a KV
// head; fewer above head_dim 128: 96 up to 170, 64 above), so at least 1 for the shapes
// CudaModel::supports.
int attention_group_rows(int64_t n_head, int64_t n_kv_head, int64_t head_dim);

// out[i, h, :] = softmax(q[i, h] . K^T / sqrt(head_dim)) V over row i's keys, with q head h reading
// kv head h / (n_head / n_kv_head); fp32 scores and accumulation, bf16 out; head_dim even and
// <= 256; kv_dim = n_kv_head * head_dim. Computed for the rows of `groups` [n_groups] (on the
// device; rows of other groups untouched) by one block per (group, KV head, run of keys), which
// reads each key once for all the group's rows and query heads (cuda_attention_decode.cu). q,
// the caches and the block stride must be 4-byte aligned (bf16 pairs are read as words).
void attention(const bf16_t* q, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
               const AttentionRows& rows, const AttentionTile* groups, int64_t n_groups,
               const bf16_t* k_cache, const bf16_t* v_cache, bf16_t* out, void* stream,
               AttentionSplit split = {});

// attention() computed 64 query rows at a time with tensor cores (bf16 WMMA, fp32 scores,
// softmax and accumulation; the probabilities rounded to bf16 for P.V, as FlashAttention-2 does):
// for prefills and other segments of many rows. head_dim 64 or 128; `tiles` [n_tiles] on the
// device cover the rows to compute, each tile's last row seeing the most keys (a segment's rows
// in order, as every forward makes them). Blocks take ~111 KB of shared memory: sm_80 and
// sm_90, not sm_86/89 (99 KB a block at most).
void attention_tiled(const bf16_t* q, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
                     const AttentionRows& rows, const AttentionTile* tiles, int64_t n_tiles,
                     const bf16_t* k_cache, const bf16_t* v_cache, bf16_t* out, void* stream);

// out[i, c] = bf16(bf16(silu(gate)) * up) with gate = gate_up[i, c], up = gate_up[i, ffn + c].
void silu_mul(const bf16_t* gate_up, int64_t n, int64_t ffn, bf16_t* out, void* stream);

// y[i, c] = bf16(y[i, c] + bias[c]) for n rows of m (the Qwen2 family's q/k/v biases).
void add_bias(bf16_t* y, int64_t n, int64_t m, const bf16_t* bias, void* stream);

// What the WeDLM sampler needs of one row of logits (fp32 arithmetic).
struct RowStats {
  float max = 0;          // the largest logit other than the banned one
  float log_sum_exp = 0;  // log sum_j exp(z_j), over every j
  float entropy = 0;      // natural log, over every j
  int32_t argmax = 0;     // the first index of `max`
};

// stats[i] for each of n rows of `vocab` logits; `banned` (< 0: none) is never the argmax.
void row_stats(const bf16_t* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats,
               void* stream);
void row_stats(const float* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats,
               void* stream);

// tokens[i] = the token of row i of n rows of `vocab` fp32 logits drawn under draws[i]: the host's
// sample_row (ops/sampling/sampling.h), by the same integer arithmetic (sample_rule.h), one block a
// row (cuda_sample.cu). `draws` is on the device.
void sample_rows(const float* logits, int64_t n, int64_t vocab, const RowDraw* draws,
                 int32_t* tokens, void* stream);

}  // namespace wedlm::cuda
