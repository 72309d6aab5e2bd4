#include "model/kv_cache.h"

#include "core/check.h"

namespace wedlm {

KvCache::KvCache(const ModelConfig& cfg, int64_t n_blocks, int64_t block_size)
    : n_layer_(cfg.n_layer),
      kv_dim_(cfg.n_kv_head * cfg.head_dim),
      n_kv_head_(cfg.n_kv_head),
      head_dim_(cfg.head_dim),
      block_size_(block_size),
      n_blocks_(n_blocks) {
  WEDLM_CHECK(block_size > 0 && n_blocks > 0, "KV cache needs blocks");
  const size_t n = static_cast<size_t>(n_blocks * n_layer_ * block_size * kv_dim_);
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

int64_t KvCache::bytes_per_token(const ModelConfig& cfg) {
  return 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * int64_t(sizeof(float));
}

bool KvCache::holds(std::span<const int32_t> table) const {
  for (int32_t b : table)
    if (b < 0 || b >= n_blocks_) return false;
  return true;
}

KvLayerView KvCache::layer_view(int64_t layer, std::span<const int32_t> table) {
  const int64_t layer_off = layer * block_size_ * kv_dim_;
  KvLayerView v;
  v.k = k_.data() + layer_off;
  v.v = v_.data() + layer_off;
  v.block_table = table.data();
  v.block_size = block_size_;
  v.block_stride = n_layer_ * block_size_ * kv_dim_;
  v.n_kv_head = n_kv_head_;
  v.head_dim = head_dim_;
  return v;
}

}  // namespace wedlm
