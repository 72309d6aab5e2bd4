// Host twins of the CUDA kernels (cuda_kernels.h): the same functions on host arrays, with the
// same bf16 rounding points, written for clarity (one row at a time, fp32 inside like the kernels,
// sums in index order). tests/cpp/test_cuda_kernels.cpp checks each kernel against its twin.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/cuda/cuda_device.h"
#include "ops/cuda/cuda_kernels.h"

namespace wedlm::cuda::host {

float round_bf16(float f);  // the nearest bf16, as fp32

// [max_pos, head_dim] fp32: cos(p * theta^(-2i/head_dim)) at i < head_dim/2, then the sines;
// angles in double. The table the device kernels read.
std::vector<float> rope_table(int64_t max_pos, int64_t head_dim, double theta);

void embed_rows(const bf16_t* table, int64_t hidden, const int32_t* ids, int64_t n, bf16_t* out);
void rms_norm(const bf16_t* x, int64_t n, int64_t d, const bf16_t* w, float eps, bf16_t* y);
void add_rms_norm(const bf16_t* x, bf16_t* residual, int64_t n, int64_t d, const bf16_t* w,
                  float eps, bf16_t* y);
void qk_norm_rope(bf16_t* q, bf16_t* k, int64_t n, int64_t n_head, int64_t n_kv_head,
                  int64_t head_dim, const bf16_t* q_norm, const bf16_t* k_norm, float eps,
                  const int64_t* pos, const float* cos_sin);
void store_kv(const bf16_t* k, const bf16_t* v, int64_t n, int64_t kv_dim, const int64_t* offsets,
              bf16_t* k_cache, bf16_t* v_cache);
void attention(const bf16_t* q, int64_t n, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
               const AttentionRows& rows, const bf16_t* k_cache, const bf16_t* v_cache,
               bf16_t* out);
void silu_mul(const bf16_t* gate_up, int64_t n, int64_t ffn, bf16_t* out);
void add_bias(bf16_t* y, int64_t n, int64_t m, const bf16_t* bias);
void row_stats(const bf16_t* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats);
// y[n, m] = x[n, k] . w[m, k]^T summed in double, given as fp32 unrounded (the GEMM's reference).
void matmul(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, float* y);

}  // namespace wedlm::cuda::host
