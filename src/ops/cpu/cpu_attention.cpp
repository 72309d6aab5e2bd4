#include "ops/cpu/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <omp.h>

#include "ops/cpu/cpu_simd.h"

namespace wedlm {
namespace {

using namespace cpu;  // NOLINT: the vector toolkit of this backend

// Causal attention of rows r0..r0+R-1 of q head h: row r sees slots [0, start + r]. Scores come
// from the same tiles as matmul (each row's numbers do not depend on its neighbours); softmax and
// the weighted sum of V run over keys in slot order.
void attend_rows(const float* q, int64_t n_head, int64_t h, int64_t r0, int64_t R, int64_t start,
                 const KvLayerView& kv, float* out, std::vector<float>& scores,
                 std::vector<const float*>& vrows) {
  const int64_t D = kv.head_dim, kvh = h / (n_head / kv.n_kv_head);
  const int64_t n_keys = start + r0 + R;  // of the last row
  const float scale = 1.0f / std::sqrt(float(D));
  scores.assign(static_cast<size_t>(R * n_keys), 0.0f);
  const float* qs[4];
  for (int64_t r = 0; r < R; ++r) qs[r] = q + ((r0 + r) * n_head + h) * D;
  for (int64_t j0 = 0; j0 < n_keys; j0 += 4) {
    const int64_t C = std::min<int64_t>(4, n_keys - j0);
    const float* ks[4];
    for (int64_t c = 0; c < C; ++c) ks[c] = kv.k + kv.row_offset(j0 + c) + kvh * D;
    tile_any(R, C, qs, ks, D, scores.data() + j0, n_keys);
  }
  float sum[4] = {0, 0, 0, 0};
  for (int64_t r = 0; r < R; ++r) {
    float* sr = scores.data() + r * n_keys;
    const int64_t lim = start + r0 + r + 1;
    float mx = -INFINITY;
    for (int64_t j = 0; j < lim; ++j) mx = std::max(mx, sr[j] *= scale);
    mapv(sr, sr, lim, [mx](vf v) { return expv(v - mx); });
    for (int64_t j = 0; j < lim; ++j) sum[r] += sr[j];
    for (int64_t j = lim; j < n_keys; ++j) sr[j] = 0.0f;  // causal: later slots are invisible
  }
  // out = P V, kLanes columns at a time with the R accumulators in registers; every element sums
  // its keys in slot order (zero weights past a row's causal limit add exactly nothing).
  vrows.resize(static_cast<size_t>(n_keys));
  for (int64_t j = 0; j < n_keys; ++j) vrows[size_t(j)] = kv.v + kv.row_offset(j) + kvh * D;
  for (int64_t c0 = 0; c0 < D; c0 += kLanes) {
    const int64_t w = std::min<int64_t>(kLanes, D - c0);
    vf acc[4] = {};
    for (int64_t j = 0; j < n_keys; ++j) {
      vf v = {};
      if (w == kLanes)
        v = loadv(vrows[size_t(j)] + c0);
      else
        std::memcpy(&v, vrows[size_t(j)] + c0, size_t(w) * sizeof(float));
      for (int64_t r = 0; r < R; ++r) acc[r] += scores[size_t(r * n_keys + j)] * v;
    }
    for (int64_t r = 0; r < R; ++r) {
      const vf o = acc[r] / sum[r];
      std::memcpy(out + ((r0 + r) * n_head + h) * D + c0, &o, size_t(w) * sizeof(float));
    }
  }
}

// ---- Key-major tiles: the queries of one KV head in the lanes ----
//
// A group is rows r0..r0+R-1 of the g q heads that read KV head kvh: query i = hh * R + r sits in
// lane i % kLanes of vector i / kLanes (NQ vectors, the last padded with zero queries). Scores are
// stored key-major, st[j][i], so scores, the causal softmax and P.V all run lane-wise: no
// horizontal sums. Each query's score sums over d in order, its softmax and P.V over keys in slot
// order, in whichever lane or group it sits.
struct Group {
  int64_t kvh, r0, R, g, n_head, start;
};

constexpr int kMaxQueryVectors = 4;  // at most 4 x kLanes queries a group
constexpr int kKeysPerTile = 6;      // 6 keys x 4 query vectors = 24 accumulators

// st[j][i] = scale * q_i . k_j for the group's keys 0..n_keys-1; qt is Q^T, [D][NQ * kLanes].
template <int NQ>
void key_major_scores(const float* qt, const KvLayerView& kv, int64_t kvh, int64_t n_keys,
                      float scale, float* st) {
  const int64_t D = kv.head_dim, QP = NQ * kLanes;
  for (int64_t j0 = 0; j0 < n_keys; j0 += kKeysPerTile) {
    const int64_t C = std::min<int64_t>(kKeysPerTile, n_keys - j0);
    const float* ks[kKeysPerTile];  // past C: repeats of the last key, computed and not stored
    for (int64_t c = 0; c < kKeysPerTile; ++c)
      ks[c] = kv.k + kv.row_offset(j0 + std::min(c, C - 1)) + kvh * D;
    vf acc[kKeysPerTile][NQ] = {};
    for (int64_t d = 0; d < D; ++d) {
      vf qv[NQ];
      for (int v = 0; v < NQ; ++v) qv[v] = loadv(qt + d * QP + v * kLanes);
      for (int c = 0; c < kKeysPerTile; ++c)
        for (int v = 0; v < NQ; ++v) acc[c][v] += ks[c][d] * qv[v];
    }
    for (int64_t c = 0; c < C; ++c)
      for (int v = 0; v < NQ; ++v) {
        const vf o = acc[c][v] * scale;
        std::memcpy(st + (j0 + c) * QP + v * kLanes, &o, sizeof o);
      }
  }
}

// In place: st[j][i] becomes exp(s - max) where key j is visible to query i (j <= last[i]), else
// 0; sum[i] the sum over keys in slot order.
template <int NQ>
void key_major_softmax(float* st, int64_t n_keys, const vi* last, vf* sum) {
  const int64_t QP = NQ * kLanes;
  vf mx[NQ];
  for (int v = 0; v < NQ; ++v) mx[v] = vf{} - INFINITY, sum[v] = vf{};
  for (int64_t j = 0; j < n_keys; ++j)
    for (int v = 0; v < NQ; ++v) {
      const vf s = loadv(st + j * QP + v * kLanes);
      mx[v] = (vi{} + int32_t(j)) <= last[v] && s > mx[v] ? s : mx[v];
    }
  for (int64_t j = 0; j < n_keys; ++j)
    for (int v = 0; v < NQ; ++v) {
      const vf p =
          (vi{} + int32_t(j)) <= last[v] ? expv(loadv(st + j * QP + v * kLanes) - mx[v]) : vf{};
      sum[v] += p;
      std::memcpy(st + j * QP + v * kLanes, &p, sizeof p);
    }
}

// out rows of queries q0..q0+Q-1 (Q <= 24 / DV): sum_j p[j][i] v_j / sum[i], DV vectors of
// head_dim.
template <int DV>
void key_major_pv(const float* pt, int64_t QP, const float* sums, const Group& G,
                  const KvLayerView& kv, int64_t n_keys, int64_t q0, int64_t Q, float* out) {
  constexpr int kQ = 24 / DV;
  const int64_t D = kv.head_dim;
  vf acc[kQ][DV] = {};
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = kv.v + kv.row_offset(j) + G.kvh * D;
    vf vv[DV];
    for (int e = 0; e < DV; ++e) vv[e] = loadv(vj + e * kLanes);
    for (int64_t t = 0; t < kQ; ++t) {
      const float p = pt[j * QP + std::min(q0 + t, q0 + Q - 1)];  // past Q: not stored
      for (int e = 0; e < DV; ++e) acc[t][e] += p * vv[e];
    }
  }
  for (int64_t t = 0; t < Q; ++t) {
    const int64_t i = q0 + t, hh = i / G.R, r = i % G.R;
    float* o = out + ((G.r0 + r) * G.n_head + G.kvh * G.g + hh) * D;
    for (int e = 0; e < DV; ++e) {
      const vf y = acc[t][e] / sums[i];
      std::memcpy(o + e * kLanes, &y, sizeof y);
    }
  }
}

struct GroupBuffers {
  std::vector<float> qt, st;
};

template <int NQ, int DV>
void attend_group(const float* q, const Group& G, const KvLayerView& kv, GroupBuffers& buf,
                  float* out) {
  const int64_t D = kv.head_dim, QP = NQ * kLanes, nq = G.g * G.R;
  const int64_t n_keys = G.start + G.r0 + G.R;  // of the group's last row
  buf.qt.assign(size_t(D * QP), 0.0f);
  for (int64_t i = 0; i < nq; ++i) {
    const float* qi = q + ((G.r0 + i % G.R) * G.n_head + G.kvh * G.g + i / G.R) * D;
    for (int64_t d = 0; d < D; ++d) buf.qt[size_t(d * QP + i)] = qi[d];
  }
  buf.st.resize(size_t(n_keys * QP));
  key_major_scores<NQ>(buf.qt.data(), kv, G.kvh, n_keys, 1.0f / std::sqrt(float(D)), buf.st.data());
  vi last[NQ];  // each lane's last visible slot; padding lanes see every key
  for (int v = 0; v < NQ; ++v)
    for (int l = 0; l < kLanes; ++l) {
      const int64_t i = v * kLanes + l;
      last[v][l] = int32_t(i < nq ? G.start + G.r0 + i % G.R : n_keys - 1);
    }
  vf sum[NQ];
  key_major_softmax<NQ>(buf.st.data(), n_keys, last, sum);
  float sums[kMaxQueryVectors * kLanes];
  std::memcpy(sums, sum, sizeof sum);
  constexpr int64_t kQ = 24 / DV;
  for (int64_t q0 = 0; q0 < nq; q0 += kQ)
    key_major_pv<DV>(buf.st.data(), QP, sums, G, kv, n_keys, q0, std::min(kQ, nq - q0), out);
}

template <int DV>
void attend_group_nq(const float* q, const Group& G, const KvLayerView& kv, GroupBuffers& buf,
                     float* out) {
  switch ((G.g * G.R + kLanes - 1) / kLanes) {
    case 1: return attend_group<1, DV>(q, G, kv, buf, out);
    case 2: return attend_group<2, DV>(q, G, kv, buf, out);
    case 3: return attend_group<3, DV>(q, G, kv, buf, out);
    default: return attend_group<4, DV>(q, G, kv, buf, out);
  }
}

// Rows a group takes: at most 4 vectors of queries, and enough groups for every thread.
int64_t group_rows(int64_t n, int64_t g, int64_t n_kv_head) {
  const int64_t most = std::max<int64_t>(1, kMaxQueryVectors * kLanes / g);
  const int64_t want_groups =
      std::max<int64_t>(1, (omp_get_max_threads() + n_kv_head - 1) / n_kv_head);
  return std::clamp<int64_t>((n + want_groups - 1) / want_groups, 1, most);
}

}  // namespace

void cpu_attention_rows(const float* q, int64_t n, int64_t n_head, int64_t start,
                        const KvLayerView& kv, float* out) {
  const int64_t n_blocks = (n + 3) / 4;
#pragma omp parallel
  {
    std::vector<float> scores;
    std::vector<const float*> vrows;
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t h = 0; h < n_head; ++h)
      for (int64_t b = 0; b < n_blocks; ++b)
        attend_rows(q, n_head, h, b * 4, std::min<int64_t>(4, n - b * 4), start, kv, out, scores,
                    vrows);
  }
}

void cpu_attention(const float* q, int64_t n, int64_t n_head, int64_t start, const KvLayerView& kv,
                   float* out) {
  const int64_t D = kv.head_dim, g = n_head / kv.n_kv_head, dv = D / kLanes;
  if (D % kLanes != 0 || (dv != 1 && dv != 2 && dv != 4 && dv != 8) ||
      g > kMaxQueryVectors * kLanes)
    return cpu_attention_rows(q, n, n_head, start, kv, out);
  const int64_t R = group_rows(n, g, kv.n_kv_head), n_groups = (n + R - 1) / R;
#pragma omp parallel
  {
    GroupBuffers buf;
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t kvh = 0; kvh < kv.n_kv_head; ++kvh)
      for (int64_t b = 0; b < n_groups; ++b) {
        const Group G{kvh, b * R, std::min(R, n - b * R), g, n_head, start};
        switch (dv) {
          case 1: attend_group_nq<1>(q, G, kv, buf, out); break;
          case 2: attend_group_nq<2>(q, G, kv, buf, out); break;
          case 4: attend_group_nq<4>(q, G, kv, buf, out); break;
          default: attend_group_nq<8>(q, G, kv, buf, out); break;
        }
      }
  }
}

}  // namespace wedlm
