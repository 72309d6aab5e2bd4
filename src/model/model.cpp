#include "model/model.h"

#include <algorithm>

#include "core/check.h"

namespace wedlm {
namespace {

MatrixView view(const TensorInfo* t) {
  MatrixView m;
  if (t == nullptr) return m;
  m.data = t->data;
  m.dtype = t->dtype;
  m.rows = t->shape.size() == 2 ? t->shape[0] : 1;
  m.cols = t->shape.back();
  return m;
}

// x[T, n] += bias[n] (the optional q/k/v biases of the Qwen2 family)
void add_bias(float* x, int64_t T, const MatrixView& bias) {
  if (bias.empty()) return;
  for (int64_t i = 0; i < T; ++i)
    for (int64_t c = 0; c < bias.cols; ++c) x[i * bias.cols + c] += bias.at(0, c);
}

void add_into(float* h, const float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] += d[i];
}

}  // namespace

Model::Model(const Checkpoint& ck, const Ops& ops) : cfg_(ck.config()), ops_(ops) {
  const ModelWeights& w = ck.weights();
  embed_ = view(w.embed);
  final_norm_ = view(w.final_norm);
  // A weight the Ops copied into their own layout is not read from the checkpoint again
  auto prepared = [&](const TensorInfo* t) {
    MatmulWeight m = ops.prepare_matmul(view(t));
    if (m.prepared != nullptr) ck.release(t);
    return m;
  };
  auto gated = [&](const TensorInfo* gate, const TensorInfo* up) {
    GatedWeight g = ops.prepare_gated(view(gate), view(up));
    if (g.fused != nullptr) ck.release(gate), ck.release(up);
    return g;
  };
  lm_head_ = prepared(w.lm_head);
  for (const LayerWeights& l : w.layers)
    layers_.push_back({view(l.input_norm), view(l.q_bias), view(l.k_bias), view(l.v_bias),
                       view(l.q_norm), view(l.k_norm), view(l.post_norm), prepared(l.q),
                       prepared(l.k), prepared(l.v), prepared(l.o), prepared(l.down),
                       gated(l.gate, l.up)});
}

// Every row's K/V stored, and its attention output in att_ (before the output projection).
void Model::attend(const Layer& w, int64_t l, const Batch& b, KvCache& cache) {
  const ModelConfig& c = cfg_;
  const int64_t T = int64_t(b.ids.size());
  ops_.rms_norm(h_.data(), T, w.input_norm, float(c.rms_norm_eps), x_.data());
  ops_.matmul(x_.data(), T, w.q, q_.data());  // [T, Hq*D]
  ops_.matmul(x_.data(), T, w.k, k_.data());  // [T, Hkv*D]
  ops_.matmul(x_.data(), T, w.v, v_.data());  // [T, Hkv*D]
  add_bias(q_.data(), T, w.q_bias);
  add_bias(k_.data(), T, w.k_bias);
  add_bias(v_.data(), T, w.v_bias);
  if (!w.q_norm.empty()) {  // QK RMSNorm per head, pre-RoPE
    ops_.rms_norm(q_.data(), T * c.n_head, w.q_norm, float(c.rms_norm_eps), q_.data());
    ops_.rms_norm(k_.data(), T * c.n_kv_head, w.k_norm, float(c.rms_norm_eps), k_.data());
  }
  ops_.rope(q_.data(), c.n_head, rope_);
  ops_.rope(k_.data(), c.n_kv_head, rope_);
  const int64_t qd = c.n_head * c.head_dim, kd = c.n_kv_head * c.head_dim;
  int64_t r0 = 0;
  for (const BatchSegment& s : b.segments) {  // per sequence: its own cache
    const KvLayerView kv = cache.layer_view(l, s.table);
    ops_.store_kv(k_.data() + r0 * kd, v_.data() + r0 * kd, s.n_rows, s.n_kv, kv);
    ops_.attention(q_.data() + r0 * qd, s.n_rows, c.n_head, s.n_kv, kv,  // store, then attend
                   att_.data() + r0 * qd);
    r0 += s.n_rows;
  }
}

void Model::project_attention(const Layer& w, int64_t T) {
  ops_.matmul(att_.data(), T, w.o, tmp_.data());  // [T, hidden]
  add_into(h_.data(), tmp_.data(), T * cfg_.hidden_size);
}

// Moves the logit rows' attention outputs and hidden states to the first R rows, in output order.
void Model::keep_logit_rows(const Batch& b) {
  const int64_t H = cfg_.hidden_size, A = cfg_.n_head * cfg_.head_dim;
  auto gather = [&b](std::vector<float>& v, std::vector<float>& scratch, int64_t width) {
    const int64_t n = int64_t(b.logit_rows.size()) * width;  // buffers hold max(T, R) rows
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      const auto from = v.begin() + b.logit_rows[r] * width;
      std::copy(from, from + width, scratch.begin() + int64_t(r) * width);
    }
    std::copy(scratch.begin(), scratch.begin() + n, v.begin());
  };
  gather(h_, tmp_, H);
  gather(att_, tmp_, A);
}

void Model::mlp_block(const Layer& w, int64_t T) {
  const ModelConfig& c = cfg_;
  ops_.rms_norm(h_.data(), T, w.post_norm, float(c.rms_norm_eps), x_.data());
  ops_.gated_matmul(x_.data(), T, w.gate_up, gate_.data());  // [T, ffn]
  ops_.matmul(gate_.data(), T, w.down, tmp_.data());         // [T, hidden]
  add_into(h_.data(), tmp_.data(), T * c.hidden_size);
}

void Model::forward(std::span<const int32_t> ids, std::span<const int64_t> pos, KvCache& cache,
                    std::span<const int32_t> table, int64_t n_kv,
                    std::span<const int32_t> logit_rows, std::vector<float>& logits) {
  one_.clear();
  one_.add(ids, pos, n_kv, table, logit_rows);
  forward(one_, cache, logits);
}

// Rows: T through the last layer's K/V, then the R logit rows (a row may be asked twice).
void Model::fit_scratch(int64_t T, int64_t R) {
  const ModelConfig& c = cfg_;
  const int64_t M = std::max(T, R), H = c.hidden_size, A = c.n_head * c.head_dim;
  const int64_t kv = c.n_kv_head * c.head_dim;
  auto fit = [](std::vector<float>& v, int64_t n) { v.resize(static_cast<size_t>(n)); };
  fit(h_, M * H), fit(x_, M * H), fit(tmp_, M * std::max(H, A));
  fit(q_, T * A), fit(att_, M * A), fit(k_, T * kv), fit(v_, T * kv);
  fit(gate_, M * c.intermediate_size);
}

// Layers before the last: every row; the last layer and the final norm: the logit rows.
void Model::observe_layer(const LayerObserver& f, int64_t l, const Batch& b, int64_t rows) {
  const int64_t H = cfg_.hidden_size;
  const bool all = l + 1 < cfg_.n_layer;
  if (all && int64_t(all_rows_.size()) < rows) {
    all_rows_.resize(size_t(rows));
    for (size_t i = 0; i < all_rows_.size(); ++i) all_rows_[i] = int32_t(i);
  }
  const std::vector<float>& v = l < cfg_.n_layer ? h_ : x_;
  f(LayerOutput{l,
                all ? std::span<const int32_t>(all_rows_).first(size_t(rows))
                    : std::span<const int32_t>(b.logit_rows),
                std::span<const float>(v).first(size_t(rows * H))});
}

void Model::forward(const Batch& b, KvCache& cache, std::vector<float>& logits,
                    const LayerObserver* observe) {
  const ModelConfig& c = cfg_;
  const int64_t T = static_cast<int64_t>(b.ids.size()), H = c.hidden_size;
  for (const BatchSegment& s : b.segments) {
    WEDLM_CHECK(int64_t(s.table.size()) * cache.block_size() >= s.n_kv + s.n_rows,
                "block table too short for the rows");
    WEDLM_CHECK(cache.holds(s.table), "block table names a block outside the KV pool");
  }
  const int64_t R = static_cast<int64_t>(b.logit_rows.size());
  fit_scratch(T, R);
  for (int64_t i = 0; i < T; ++i) {
    const int32_t id = b.ids[size_t(i)];
    WEDLM_CHECK(id >= 0 && id < c.vocab_size, "token id out of range");
    embed_.row_to_f32(id, h_.data() + i * H);  // [T, hidden]
  }
  rope_.set(b.pos.data(), T, c.head_dim, c.rope_theta);  // once for every layer
  int64_t rows = T;
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& w = layers_[size_t(l)];
    attend(w, l, b, cache);    // every row's K/V
    if (l + 1 == c.n_layer) {  // past the last K/V only the logit rows matter
      keep_logit_rows(b);
      rows = R;
    }
    project_attention(w, rows);
    mlp_block(w, rows);
    if (observe) observe_layer(*observe, l, b, rows);
  }
  ops_.rms_norm(h_.data(), R, final_norm_, float(c.rms_norm_eps), x_.data());
  if (observe) observe_layer(*observe, c.n_layer, b, R);
  logits.resize(static_cast<size_t>(R * c.vocab_size));
  ops_.matmul(x_.data(), R, lm_head_, logits.data());  // [R, vocab]
}

}  // namespace wedlm
