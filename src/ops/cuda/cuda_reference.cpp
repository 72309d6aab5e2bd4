#include "ops/cuda/cuda_reference.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"

namespace wedlm::cuda::host {
namespace {

float bf(bf16_t h) { return bf16_to_f32(h); }
bf16_t to_bf(float f) { return f32_to_bf16(f); }

// bf16(bf16(x * inv) * w): the reference's RMSNorm output rounding
bf16_t scale_round(float x, float inv, bf16_t w) { return to_bf(round_bf16(x * inv) * bf(w)); }

float inv_rms(const float* x, int64_t d, float eps) {
  float ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  return 1.0f / std::sqrt(ss / float(d) + eps);
}

}  // namespace

float round_bf16(float f) { return bf(to_bf(f)); }

std::vector<float> rope_table(int64_t max_pos, int64_t head_dim, double theta) {
  const int64_t half = head_dim / 2;
  std::vector<float> t(size_t(max_pos * head_dim));
  for (int64_t p = 0; p < max_pos; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double ang = double(p) / std::pow(theta, 2.0 * double(i) / double(head_dim));
      t[size_t(p * head_dim + i)] = float(std::cos(ang));
      t[size_t(p * head_dim + half + i)] = float(std::sin(ang));
    }
  return t;
}

void embed_rows(const bf16_t* table, int64_t hidden, const int32_t* ids, int64_t n, bf16_t* out) {
  for (int64_t i = 0; i < n; ++i)
    std::copy(table + ids[i] * hidden, table + (ids[i] + 1) * hidden, out + i * hidden);
}

void rms_norm(const bf16_t* x, int64_t n, int64_t d, const bf16_t* w, float eps, bf16_t* y) {
  std::vector<float> row(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; ++i) row[size_t(i)] = bf(x[r * d + i]);
    const float inv = inv_rms(row.data(), d, eps);
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = scale_round(row[size_t(i)], inv, w[i]);
  }
}

void add_rms_norm(const bf16_t* x, bf16_t* residual, int64_t n, int64_t d, const bf16_t* w,
                  float eps, bf16_t* y) {
  std::vector<float> sum(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; ++i) sum[size_t(i)] = bf(x[r * d + i]) + bf(residual[r * d + i]);
    const float inv = inv_rms(sum.data(), d, eps);
    for (int64_t i = 0; i < d; ++i) {
      residual[r * d + i] = to_bf(sum[size_t(i)]);
      y[r * d + i] = scale_round(sum[size_t(i)], inv, w[i]);
    }
  }
}

namespace {

void norm_rope_head(bf16_t* x, int64_t head_dim, const bf16_t* w, float eps, const float* cs) {
  const int64_t half = head_dim / 2;
  std::vector<float> v(static_cast<size_t>(head_dim));
  for (int64_t i = 0; i < head_dim; ++i) v[size_t(i)] = bf(x[i]);
  if (w != nullptr) {
    const float inv = inv_rms(v.data(), head_dim, eps);
    for (int64_t i = 0; i < head_dim; ++i) v[size_t(i)] = bf(scale_round(v[size_t(i)], inv, w[i]));
  }
  for (int64_t t = 0; t < half; ++t) {
    const float a = v[size_t(t)], b = v[size_t(t + half)], c = cs[t], s = cs[half + t];
    x[t] = to_bf(a * c - b * s);
    x[t + half] = to_bf(b * c + a * s);
  }
}

}  // namespace

void qk_norm_rope(bf16_t* q, bf16_t* k, int64_t n, int64_t n_head, int64_t n_kv_head,
                  int64_t head_dim, const bf16_t* q_norm, const bf16_t* k_norm, float eps,
                  const int64_t* pos, const float* cos_sin) {
  for (int64_t i = 0; i < n; ++i) {
    const float* cs = cos_sin + pos[i] * head_dim;
    for (int64_t h = 0; h < n_head; ++h)
      norm_rope_head(q + (i * n_head + h) * head_dim, head_dim, q_norm, eps, cs);
    for (int64_t h = 0; h < n_kv_head; ++h)
      norm_rope_head(k + (i * n_kv_head + h) * head_dim, head_dim, k_norm, eps, cs);
  }
}

void store_kv(const bf16_t* k, const bf16_t* v, int64_t n, int64_t kv_dim, const int64_t* offsets,
              bf16_t* k_cache, bf16_t* v_cache) {
  for (int64_t i = 0; i < n; ++i) {
    std::copy(k + i * kv_dim, k + (i + 1) * kv_dim, k_cache + offsets[i]);
    std::copy(v + i * kv_dim, v + (i + 1) * kv_dim, v_cache + offsets[i]);
  }
}

void attention(const bf16_t* q, int64_t n, int64_t n_head, int64_t n_kv_head, int64_t head_dim,
               const AttentionRows& rows, const bf16_t* k_cache, const bf16_t* v_cache,
               bf16_t* out) {
  const int64_t kv_dim = n_kv_head * head_dim, bs = rows.block_size;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* table = rows.block_tables + rows.table_start[i];
    const int64_t nk = rows.n_keys[i];
    for (int64_t h = 0; h < n_head; ++h) {
      const bf16_t* qh = q + (i * n_head + h) * head_dim;
      const int64_t off = (h / (n_head / n_kv_head)) * head_dim;
      std::vector<float> p(static_cast<size_t>(nk));
      std::vector<int64_t> at(static_cast<size_t>(nk));
      float mx = -INFINITY;
      for (int64_t j = 0; j < nk; ++j) {
        at[size_t(j)] = int64_t(table[j / bs]) * rows.block_stride + (j % bs) * kv_dim + off;
        float s = 0;
        for (int64_t e = 0; e < head_dim; ++e) s += bf(qh[e]) * bf(k_cache[at[size_t(j)] + e]);
        p[size_t(j)] = s * scale;
        mx = std::max(mx, p[size_t(j)]);
      }
      float total = 0;
      for (float& x : p) total += (x = std::exp(x - mx));
      for (int64_t e = 0; e < head_dim; ++e) {
        float o = 0;
        for (int64_t j = 0; j < nk; ++j) o += p[size_t(j)] * bf(v_cache[at[size_t(j)] + e]);
        out[(i * n_head + h) * head_dim + e] = to_bf(o / total);
      }
    }
  }
}

void silu_mul(const bf16_t* gate_up, int64_t n, int64_t ffn, bf16_t* out) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < ffn; ++c) {
      const float g = bf(gate_up[r * 2 * ffn + c]), u = bf(gate_up[r * 2 * ffn + ffn + c]);
      out[r * ffn + c] = to_bf(round_bf16(g / (1.0f + std::exp(-g))) * u);
    }
}

void add_bias(bf16_t* y, int64_t n, int64_t m, const bf16_t* bias) {
  for (int64_t i = 0; i < n * m; ++i) y[i] = to_bf(bf(y[i]) + bf(bias[i % m]));
}

void row_stats(const bf16_t* logits, int64_t n, int64_t vocab, int64_t banned, RowStats* stats) {
  for (int64_t r = 0; r < n; ++r) {
    const bf16_t* z = logits + r * vocab;
    RowStats s{-INFINITY, 0, 0, 0};
    float all = -INFINITY;
    for (int64_t j = 0; j < vocab; ++j) {
      all = std::max(all, bf(z[j]));
      if (j != banned && bf(z[j]) > s.max) s.max = bf(z[j]), s.argmax = int32_t(j);
    }
    double se = 0, sez = 0;
    for (int64_t j = 0; j < vocab; ++j) {
      const double d = double(bf(z[j])) - all, e = std::exp(d);
      se += e;
      sez += e * d;
    }
    s.log_sum_exp = float(all + std::log(se));
    s.entropy = float(std::log(se) - sez / se);
    stats[r] = s;
  }
}

void matmul(const bf16_t* x, int64_t n, const bf16_t* w, int64_t m, int64_t k, float* y) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (int64_t e = 0; e < k; ++e) s += double(bf(x[i * k + e])) * double(bf(w[j * k + e]));
      y[i * m + j] = float(s);
    }
}

}  // namespace wedlm::cuda::host
