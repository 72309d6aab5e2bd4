// Paged KV cache: a pool of fixed-size blocks, each holding block_size token slots of every layer's
// K and V in fp32. A sequence owns a block table (its blocks in logical order); logical slot s lives
// in block table[s / block_size] at row s % block_size. Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "io/model_config.h"
#include "ops/ops.h"

namespace wedlm {

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int64_t n_blocks, int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }
  std::optional<int32_t> allocate();
  void release(int32_t block);
  // Views of layer `layer` through `table`; valid while the cache and the table live unchanged.
  KvLayerView layer_view(int64_t layer, const std::vector<int32_t>& table);

 private:
  int64_t n_layer_, kv_dim_, n_kv_head_, head_dim_, block_size_, n_blocks_;
  std::vector<float> k_, v_;  // [n_blocks][n_layer][block_size][kv_dim]
  std::vector<int32_t> free_;
};

}  // namespace wedlm
