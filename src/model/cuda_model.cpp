#include "model/cuda_model.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include <fmt/core.h>

#include "core/check.h"
#include "model/op_times.h"
#include "ops/cuda/cuda_device.h"
#include "ops/cuda/cuda_gemm.h"
#include "ops/cuda/cuda_kernels.h"
#include "ops/cuda/cuda_reference.h"

namespace wedlm {
namespace {

using cuda::bf16_t;
using cuda::DeviceBuffer;

// A stored tensor's elements as bf16 (copied as they are when already bf16).
std::vector<bf16_t> host_bf16(const TensorInfo* t) {
  const int64_t n = t->numel();
  std::vector<bf16_t> out(static_cast<size_t>(n));
  if (t->dtype == DType::kBF16) {
    std::memcpy(out.data(), t->data, out.size() * sizeof(bf16_t));
    return out;
  }
  const MatrixView m{t->data, t->dtype, 1, n};
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = f32_to_bf16(m.at(0, i));
  return out;
}

DeviceBuffer<bf16_t> upload(const TensorInfo* t) {
  return t == nullptr ? DeviceBuffer<bf16_t>() : DeviceBuffer<bf16_t>(host_bf16(t));
}

// Grows `b` to hold n elements (to the next power of two; contents not kept); counts the
// reallocations in `generation`, since a reallocation invalidates every captured graph.
template <class T>
void grow(DeviceBuffer<T>& b, size_t n, int64_t& generation) {
  if (b.size() >= n) return;
  b = DeviceBuffer<T>(std::bit_ceil(std::max<size_t>(n, 16)));
  ++generation;
}

// Queues the copy of `host` into `b` (reserved large enough) on `stream`.
template <class T>
void put(DeviceBuffer<T>& b, const std::vector<T>& host, void* stream) {
  WEDLM_CHECK(b.size() >= host.size(), "device buffer not reserved");
  cuda::copy_to_device_async(b.data(), host.data(), host.size() * sizeof(T), stream);
}

struct DeviceLayer {
  DeviceBuffer<bf16_t> input_norm, q, k, v, q_bias, k_bias, v_bias, q_norm, k_norm, o, post_norm,
      gate_up, down;
};

// The host-side description of a batch's rows, uploaded once per forward.
struct RowsMeta {
  std::vector<int32_t> ids, n_keys, table_start, tables, logit_rows;
  std::vector<int64_t> pos, kv_offsets;
  // Each segment's rows in tiles of 64 for the tiled kernel (segments of 64 rows or more, when
  // it is on) or in groups of attention_group_rows for the decode kernel (every other segment).
  std::vector<cuda::AttentionTile> tiles, groups;
  int64_t group_max_keys = 0, group_max_rows = 0;  // over the groups: what their split needs
};

}  // namespace

struct CudaModel::Impl {
  ModelConfig cfg;
  int64_t n_blocks, block_size, kv_dim, block_stride;
  DeviceBuffer<bf16_t> embed, final_norm, lm_head;  // lm_head empty when tied
  std::vector<DeviceLayer> layers;
  DeviceBuffer<bf16_t> k_pool, v_pool;
  DeviceBuffer<float> rope;          // [max_pos, head_dim]
  std::unique_ptr<cuda::Gemm> gemm;  // made once a device is known to be there
  // scratch, grown on demand
  DeviceBuffer<bf16_t> h, residual, x, q, k, v, att, gate_up, act, gathered;
  DeviceBuffer<float> logits;
  DeviceBuffer<cuda::RowStats> stats;
  DeviceBuffer<RowDraw> draws;   // how each logit row is drawn
  DeviceBuffer<int32_t> tokens;  // and the tokens drawn
  DeviceBuffer<int32_t> ids, n_keys, table_start, tables, logit_rows;
  DeviceBuffer<int64_t> pos, kv_offsets;
  DeviceBuffer<cuda::AttentionTile> tiles, groups;
  // CudaOptions::tiled_attention, where the head_dim allows it
  bool use_tiled = false;
  int group_rows = 1;                 // cuda::attention_group_rows of this shape
  int n_multiprocessors = 1;          // the device's, for the split over the keys
  int64_t n_tiles = 0, n_groups = 0;  // this forward's
  int n_split = 1;  // this forward's attention runs of keys (cuda::attention_splits)
  DeviceBuffer<float> attention_work;  // their states

  void* stream = nullptr;  // every launch and copy of this model
  // CUDA graphs (CudaOptions::graphs); a buffer reallocation (a larger shape) drops them all.
  bool use_graphs = false;
  LayerObserver observer;  // set: eager forwards, each layer's rows copied back
  // CudaOptions::op_times: eager forwards, an event before each launch (op()), totals by rows
  std::unique_ptr<OpTimes> op_times;
  cuda::EventTimer timer;
  // rows, logit rows, tiles, groups, split: everything a capture bakes in
  using GraphKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int>;
  std::map<GraphKey, cuda::Graph> graphs;
  std::set<GraphKey> seen;
  int64_t generation = 0, graphs_generation = 0;

  Impl(const Checkpoint& ck, int64_t blocks, int64_t bs, const CudaOptions& opt);
  ~Impl();
  RowsMeta describe(const Batch& b) const;
  void reserve(int64_t T, int64_t R, const RowsMeta& m);
  void upload_meta(const RowsMeta& m);
  void attention_block(const DeviceLayer& w, int64_t l, int64_t T);
  void mlp_block(const DeviceLayer& w, int64_t T);
  void body(int64_t T, int64_t R);  // every launch of a forward (what a graph captures)
  int64_t run(const Batch& b);      // the forward; the logit rows' logits left in `logits`
  void pick(const Batch& b, int64_t R, StepOutput& out);  // the picks, and the rows that asked
  void observe_layer(int64_t l, int64_t T);               // observer: layer l's rows to the host
  // op_times: the launches queued from here to the next op() or op_end() are `what` (GEMMs: with
  // their rows x outputs x inputs)
  void op(const char* what, int64_t m = 0, int64_t n = 0, int64_t k = 0);
  void op_end() {
    if (op_times) timer.mark(stream, -1);
  }
  const Batch* observed = nullptr;  // the batch being observed
};

CudaModel::Impl::Impl(const Checkpoint& ck, int64_t blocks, int64_t bs, const CudaOptions& opt)
    : cfg(ck.config()),
      n_blocks(blocks),
      block_size(bs),
      kv_dim(cfg.n_kv_head * cfg.head_dim),
      block_stride(cfg.n_layer * bs * kv_dim) {
  WEDLM_CHECK(cuda::device_count() > 0, "CudaModel needs a CUDA device");
  const Status shape = supports(cfg);
  WEDLM_CHECK(shape.is_ok(), shape.message());
  gemm = std::make_unique<cuda::Gemm>();
  stream = cuda::create_stream();
  use_graphs = opt.graphs;
  if (opt.op_times) op_times = std::make_unique<OpTimes>();
  use_tiled = opt.tiled_attention && (cfg.head_dim == 64 || cfg.head_dim == 128);
  group_rows = cuda::attention_group_rows(cfg.n_head, cfg.n_kv_head, cfg.head_dim);
  n_multiprocessors = cuda::multiprocessor_count();
  const ModelWeights& w = ck.weights();
  embed = upload(w.embed);
  final_norm = upload(w.final_norm);
  if (w.lm_head != w.embed) lm_head = upload(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    DeviceLayer d;
    d.input_norm = upload(l.input_norm), d.q = upload(l.q), d.k = upload(l.k), d.v = upload(l.v);
    d.q_bias = upload(l.q_bias), d.k_bias = upload(l.k_bias), d.v_bias = upload(l.v_bias);
    d.q_norm = upload(l.q_norm), d.k_norm = upload(l.k_norm), d.o = upload(l.o);
    d.post_norm = upload(l.post_norm), d.down = upload(l.down);
    std::vector<bf16_t> gu = host_bf16(l.gate), up = host_bf16(l.up);  // gate rows, then up rows
    gu.insert(gu.end(), up.begin(), up.end());
    d.gate_up = DeviceBuffer<bf16_t>(gu);
    layers.push_back(std::move(d));
  }
  const size_t pool = size_t(n_blocks * block_stride);
  k_pool = DeviceBuffer<bf16_t>(pool);
  v_pool = DeviceBuffer<bf16_t>(pool);
  cuda::zero(k_pool.data(), pool * sizeof(bf16_t));  // as KvCache: never-written slots are 0
  cuda::zero(v_pool.data(), pool * sizeof(bf16_t));
  rope = DeviceBuffer<float>(
      cuda::host::rope_table(cfg.max_position_embeddings, cfg.head_dim, cfg.rope_theta));
}

CudaModel::Impl::~Impl() {
  graphs.clear();
  cuda::destroy_stream(stream);
}

RowsMeta CudaModel::Impl::describe(const Batch& b) const {
  RowsMeta m;
  m.ids = b.ids;
  m.pos = b.pos;
  m.logit_rows = b.logit_rows;
  for (const BatchSegment& s : b.segments) {
    WEDLM_CHECK(int64_t(s.table.size()) * block_size >= s.n_kv + s.n_rows,
                "block table too short for the rows");
    const int32_t start = int32_t(m.tables.size());
    for (int32_t blk : s.table) {
      WEDLM_CHECK(blk >= 0 && blk < n_blocks, "block table names a block outside the KV pool");
      m.tables.push_back(blk);
    }
    // whole 64-row tiles when the tiled kernel is on; the rest of the rows in groups
    const int64_t tiled = use_tiled ? s.n_rows / 64 * 64 : 0, row0 = int64_t(m.n_keys.size());
    for (int64_t r0 = 0; r0 < tiled; r0 += 64) m.tiles.push_back({int32_t(row0 + r0), 64});
    for (int64_t r0 = tiled; r0 < s.n_rows; r0 += group_rows) {
      const int64_t n = std::min<int64_t>(group_rows, s.n_rows - r0);
      m.groups.push_back({int32_t(row0 + r0), int32_t(n)});
      m.group_max_keys = std::max(m.group_max_keys, s.n_kv + r0 + n);  // its last row's keys
      m.group_max_rows = std::max(m.group_max_rows, n);
    }
    for (int64_t r = 0; r < s.n_rows; ++r) {
      const int64_t slot = s.n_kv + r;
      m.kv_offsets.push_back(int64_t(s.table[size_t(slot / block_size)]) * block_stride +
                             (slot % block_size) * kv_dim);
      m.n_keys.push_back(int32_t(slot + 1));
      m.table_start.push_back(start);
    }
  }
  for (size_t i = 0; i < m.ids.size(); ++i) {
    WEDLM_CHECK(m.ids[i] >= 0 && m.ids[i] < cfg.vocab_size, "token id out of range");
    WEDLM_CHECK(m.pos[i] >= 0 && m.pos[i] < cfg.max_position_embeddings,
                "position beyond max_position_embeddings");
  }
  return m;
}

void CudaModel::Impl::reserve(int64_t T, int64_t R, const RowsMeta& m) {
  const size_t t = size_t(T), H = size_t(cfg.hidden_size), F = size_t(cfg.intermediate_size);
  const size_t qd = size_t(cfg.n_head * cfg.head_dim), kv = size_t(kv_dim);
  int64_t& g = generation;
  grow(h, t * H, g), grow(residual, t * H, g), grow(x, t * H, g), grow(q, t * qd, g);
  grow(att, t * qd, g), grow(k, t * kv, g), grow(v, t * kv, g), grow(gate_up, t * 2 * F, g);
  grow(act, t * F, g), grow(gathered, size_t(R) * H, g);
  grow(logits, size_t(R * cfg.vocab_size), g), grow(stats, size_t(R), g);
  grow(draws, size_t(R), g), grow(tokens, size_t(R), g);
  grow(ids, t, g), grow(pos, t, g), grow(kv_offsets, t, g), grow(n_keys, t, g);
  grow(table_start, t, g), grow(tables, m.tables.size(), g), grow(logit_rows, size_t(R), g);
  grow(tiles, m.tiles.size(), g), grow(groups, m.groups.size(), g);
  const int64_t work = cuda::attention_work_floats(T, cfg.n_head, cfg.head_dim, n_split);
  grow(attention_work, size_t(work), g);
}

void CudaModel::Impl::upload_meta(const RowsMeta& m) {
  put(ids, m.ids, stream), put(pos, m.pos, stream), put(kv_offsets, m.kv_offsets, stream);
  put(n_keys, m.n_keys, stream), put(table_start, m.table_start, stream);
  put(tables, m.tables, stream), put(logit_rows, m.logit_rows, stream);
  put(tiles, m.tiles, stream), put(groups, m.groups, stream);
}

void CudaModel::Impl::attention_block(const DeviceLayer& w, int64_t l, int64_t T) {
  const ModelConfig& c = cfg;
  const int64_t H = c.hidden_size, qd = c.n_head * c.head_dim;
  const float eps = float(c.rms_norm_eps);
  if (l == 0) {  // residual = embeddings; x = RMSNorm(residual)
    op("rms_norm");
    std::swap(h, residual);
    cuda::rms_norm(residual.data(), T, H, w.input_norm.data(), eps, x.data(), stream);
  } else {  // residual += h; x = RMSNorm(residual)
    op("add_rms_norm");
    cuda::add_rms_norm(h.data(), residual.data(), T, H, w.input_norm.data(), eps, x.data(), stream);
  }
  op("gemm q", T, qd, H);
  gemm->bf16_out(x.data(), T, w.q.data(), qd, H, q.data(), stream);  // [T, qd]
  op("gemm k", T, kv_dim, H);
  gemm->bf16_out(x.data(), T, w.k.data(), kv_dim, H, k.data(), stream);
  op("gemm v", T, kv_dim, H);
  gemm->bf16_out(x.data(), T, w.v.data(), kv_dim, H, v.data(), stream);
  if (w.q_bias.size() > 0) {
    op("add_bias");
    cuda::add_bias(q.data(), T, qd, w.q_bias.data(), stream);
    cuda::add_bias(k.data(), T, kv_dim, w.k_bias.data(), stream);
    cuda::add_bias(v.data(), T, kv_dim, w.v_bias.data(), stream);
  }
  op("qk_norm_rope");
  cuda::qk_norm_rope(q.data(), k.data(), T, c.n_head, c.n_kv_head, c.head_dim,
                     w.q_norm.size() ? w.q_norm.data() : nullptr,
                     w.k_norm.size() ? w.k_norm.data() : nullptr, eps, pos.data(), rope.data(),
                     stream);
  const int64_t layer_at = l * block_size * kv_dim;  // this layer's rows inside every block
  bf16_t* kc = k_pool.data() + layer_at;
  bf16_t* vc = v_pool.data() + layer_at;
  op("store_kv");
  cuda::store_kv(k.data(), v.data(), T, kv_dim, kv_offsets.data(), kc, vc, stream);  // then attend
  const cuda::AttentionRows rows{n_keys.data(), table_start.data(), tables.data(), block_size,
                                 block_stride};
  if (n_tiles > 0) op("attention (tiled)");
  cuda::attention_tiled(q.data(), c.n_head, c.n_kv_head, c.head_dim, rows, tiles.data(), n_tiles,
                        kc, vc, att.data(), stream);  // long segments (none: no launch)
  if (n_groups > 0) op(n_split > 1 ? "attention (split, merged)" : "attention");
  cuda::attention(q.data(), c.n_head, c.n_kv_head, c.head_dim, rows, groups.data(), n_groups, kc,
                  vc, att.data(), stream, cuda::AttentionSplit{n_split, attention_work.data()});
  op("gemm o", T, H, qd);
  gemm->bf16_out(att.data(), T, w.o.data(), H, qd, h.data(), stream);  // [T, H]
}

void CudaModel::Impl::mlp_block(const DeviceLayer& w, int64_t T) {
  const int64_t H = cfg.hidden_size, F = cfg.intermediate_size;
  op("add_rms_norm");
  cuda::add_rms_norm(h.data(), residual.data(), T, H, w.post_norm.data(), float(cfg.rms_norm_eps),
                     x.data(), stream);
  op("gemm gate_up", T, 2 * F, H);
  gemm->bf16_out(x.data(), T, w.gate_up.data(), 2 * F, H, gate_up.data(), stream);  // [T, 2F]
  op("silu_mul");
  cuda::silu_mul(gate_up.data(), T, F, act.data(), stream);  // [T, F]
  op("gemm down", T, H, F);
  gemm->bf16_out(act.data(), T, w.down.data(), H, F, h.data(), stream);  // [T, H]
}

CudaModel::CudaModel(const Checkpoint& ck, int64_t n_blocks, int64_t block_size,
                     const CudaOptions& options)
    : impl_(std::make_unique<Impl>(ck, n_blocks, block_size, options)) {}

CudaModel::~CudaModel() = default;

const ModelConfig& CudaModel::config() const { return impl_->cfg; }
int64_t CudaModel::n_blocks() const { return impl_->n_blocks; }
int64_t CudaModel::block_size() const { return impl_->block_size; }

Status CudaModel::supports(const ModelConfig& cfg) {
  const int64_t d = cfg.head_dim;
  if (d > 256 || d < 2 || d % 2 != 0)
    return Status(
        ErrorKind::kInvalidArgument,
        fmt::format("the CUDA backend takes an even head_dim up to 256, the model has {}", d));
  if (cfg.n_kv_head < 1 || cfg.n_head % cfg.n_kv_head != 0 ||
      cuda::attention_group_rows(cfg.n_head, cfg.n_kv_head, d) < 1)
    return Status(ErrorKind::kInvalidArgument,
                  fmt::format("the CUDA attention takes up to {} query heads a KV head at "
                              "head_dim {}, the model has {} / {}",
                              cuda::attention_group_rows(1, 1, d), d, cfg.n_head, cfg.n_kv_head));
  return Status::ok();
}

void CudaModel::Impl::body(int64_t T, int64_t R) {
  const ModelConfig& c = cfg;
  const int64_t H = c.hidden_size;
  op("embed");
  cuda::embed_rows(embed.data(), H, ids.data(), T, h.data(), stream);  // [T, H]
  for (int64_t l = 0; l < c.n_layer; ++l) {
    attention_block(layers[size_t(l)], l, T);
    mlp_block(layers[size_t(l)], T);
    if (observer) observe_layer(l, T);
  }
  op("final add_rms_norm");
  cuda::add_rms_norm(h.data(), residual.data(), T, H, final_norm.data(), float(c.rms_norm_eps),
                     x.data(), stream);
  if (observer) observe_layer(c.n_layer, T);
  if (R == 0) return;
  // the logit rows of x, gathered like embeddings, then the LM head on those rows only
  op("gather logit rows");
  cuda::embed_rows(x.data(), H, logit_rows.data(), R, gathered.data(), stream);
  const bf16_t* head = lm_head.size() > 0 ? lm_head.data() : embed.data();
  op("gemm lm_head", R, c.vocab_size, H);
  gemm->f32_out(gathered.data(), R, head, c.vocab_size, H, logits.data(), stream);  // [R, vocab]
}

int64_t CudaModel::Impl::run(const Batch& b) {
  const int64_t T = int64_t(b.ids.size()), R = int64_t(b.logit_rows.size());
  const RowsMeta meta = describe(b);
  n_tiles = int64_t(meta.tiles.size()), n_groups = int64_t(meta.groups.size());
  n_split =
      cuda::attention_splits(n_groups * cfg.n_kv_head, meta.group_max_keys,
                             meta.group_max_rows * (cfg.n_head / cfg.n_kv_head), n_multiprocessors);
  reserve(T, R, meta);
  if (generation != graphs_generation) graphs.clear(), seen.clear();
  graphs_generation = generation;
  op("upload batch metadata");
  upload_meta(meta);
  const GraphKey key{T, R, n_tiles, n_groups, n_split};
  if (!use_graphs || T == 0 || observer || op_times) {
    observed = &b;
    body(T, R);
  } else if (auto it = graphs.find(key); it != graphs.end()) {
    it->second.launch(stream);
  } else if (seen.insert(key).second) {  // first time: eagerly (plans and buffers settle)
    body(T, R);
  } else {  // second time: capture, then replay from now on
    cuda::Graph g;
    g.begin(stream);
    body(T, R);
    g.end(stream);
    g.launch(stream);
    graphs.emplace(key, std::move(g));
  }
  return R;
}

// Layer l's output (l < n_layer: residual + h, rounded to bf16 as the next layer reads it; the
// final norm: x), copied to the host; every row before the last layer, then the logit rows.
void CudaModel::Impl::observe_layer(int64_t l, int64_t T) {
  const int64_t H = cfg.hidden_size;
  cuda::stream_sync(stream);
  std::vector<bf16_t> a(size_t(T * H)), r(size_t(T * H));
  cuda::copy_to_host(a.data(), (l < cfg.n_layer ? h : x).data(), a.size() * sizeof(bf16_t));
  if (l < cfg.n_layer) cuda::copy_to_host(r.data(), residual.data(), r.size() * sizeof(bf16_t));
  std::vector<float> all(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    all[i] = l < cfg.n_layer ? bf16_to_f32(f32_to_bf16(bf16_to_f32(a[i]) + bf16_to_f32(r[i])))
                             : bf16_to_f32(a[i]);
  std::vector<int32_t> rows;
  if (l + 1 < cfg.n_layer) {
    for (int64_t i = 0; i < T; ++i) rows.push_back(int32_t(i));
    observer(LayerOutput{l, rows, all});
    return;
  }
  rows = observed->logit_rows;
  std::vector<float> kept;
  for (int32_t row : rows)
    kept.insert(kept.end(), all.begin() + row * H, all.begin() + (row + 1) * H);
  observer(LayerOutput{l, rows, kept});
}

void CudaModel::set_layer_observer(LayerObserver f) { impl_->observer = std::move(f); }

// The picks of the R logit rows left in `logits` by run(), made on the device; the rows that
// asked for their logits copied whole.
void CudaModel::Impl::pick(const Batch& b, int64_t R, StepOutput& out) {
  const int64_t V = cfg.vocab_size;
  out.picks.resize(size_t(R));
  out.logits_index.assign(size_t(R), -1);
  out.logits.resize(size_t(b.n_logits_wanted() * V));
  if (R == 0) {
    op_end();
    return cuda::stream_sync(stream);  // a failed kernel is named by this forward
  }
  std::vector<RowDraw> draw_rows(static_cast<size_t>(R));
  for (size_t r = 0; r < size_t(R); ++r) draw_rows[r] = b.requests[r].draw;
  put(draws, draw_rows, stream);
  op("row_stats");
  cuda::row_stats(logits.data(), R, V, -1, stats.data(), stream);  // the entropies
  op("sample_rows");
  cuda::sample_rows(logits.data(), R, V, draws.data(), tokens.data(), stream);
  op_end();
  cuda::stream_sync(stream);
  std::vector<cuda::RowStats> s(static_cast<size_t>(R));
  std::vector<int32_t> t(static_cast<size_t>(R));
  cuda::copy_to_host(s.data(), stats.data(), s.size() * sizeof(cuda::RowStats));
  cuda::copy_to_host(t.data(), tokens.data(), t.size() * sizeof(int32_t));
  int32_t kept = 0;
  std::vector<float> row;
  for (size_t r = 0; r < size_t(R); ++r) {
    out.picks[r] = RowPick{t[r], double(s[r].entropy)};
    const RowRequest& q = b.requests[r];
    if (!q.wants_logits && !q.edits_logits()) continue;
    float* host = q.wants_logits ? out.logits.data() + size_t(kept) * size_t(V)
                                 : (row.resize(size_t(V)), row.data());
    cuda::copy_to_host(host, logits.data() + r * size_t(V), size_t(V) * sizeof(float));
    if (q.edits_logits()) {  // penalties or a grammar: edited and picked on the host
      q.edit(host, V);
      out.picks[r] = pick_row(host, V, q.draw);
    }
    if (q.wants_logits) out.logits_index[r] = kept++;
  }
}

void CudaModel::forward(const Batch& b, StepOutput& out) {
  WEDLM_CHECK(b.requests.size() == b.logit_rows.size(), "one request per logit row");
  const int64_t R = impl_->run(b);
  impl_->pick(b, R, out);
  if (impl_->op_times) {
    std::vector<double> ms;
    impl_->timer.collect(ms);
    impl_->op_times->add_forward(int64_t(b.ids.size()), ms);
  }
}

std::string CudaModel::profile() const {
  return impl_->op_times ? impl_->op_times->report() : std::string();
}

void CudaModel::Impl::op(const char* what, int64_t m, int64_t n, int64_t k) {
  if (!op_times) return;
  const std::string name = m > 0 ? fmt::format("{} {}x{}x{}", what, m, n, k) : std::string(what);
  timer.mark(stream, op_times->label(name));
}

}  // namespace wedlm
