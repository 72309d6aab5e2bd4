// Paged KV storage: a pool of fixed-size blocks, each holding block_size token slots of every
// layer's K and V in fp32. Who owns which block is decided elsewhere (ModelSequence for one
// sequence, the engine's BlockManager for many); a sequence's block table lists its blocks in
// logical order, and logical slot s lives in block table[s / block_size] at row s % block_size.
// Not thread-safe: one forward at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/model_config.h"
#include "ops/ops.h"

namespace wedlm {

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int64_t n_blocks, int64_t block_size);

  int64_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return n_blocks_; }
  // Bytes of K and V one token slot takes over all layers (fp32).
  static int64_t bytes_per_token(const ModelConfig& cfg);
  // Whether every block `table` names exists in this pool.
  bool holds(std::span<const int32_t> table) const;
  // Views of layer `layer` through `table` (which the caller checked with holds()); valid while the
  // cache and the table live unchanged.
  KvLayerView layer_view(int64_t layer, std::span<const int32_t> table);

 private:
  int64_t n_layer_, kv_dim_, n_kv_head_, head_dim_, block_size_, n_blocks_;
  std::vector<float> k_, v_;  // [n_blocks][n_layer][block_size][kv_dim]
};

}  // namespace wedlm
