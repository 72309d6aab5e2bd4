// A checkpoint directory opened for inference: its ModelConfig and every weight bound by name to a
// view into the memory-mapped safetensors files (single file or sharded index). Shapes are checked
// against the config; missing, extra or misshapen tensors are a Status naming file and tensor.
// Immutable after open(); safe to read from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/model_config.h"
#include "io/safetensors.h"

namespace wedlm {

struct LayerWeights {
  const TensorInfo* input_norm = nullptr;  // [hidden]
  const TensorInfo* q = nullptr;           // [n_head * head_dim, hidden]
  const TensorInfo* k = nullptr;           // [n_kv_head * head_dim, hidden]
  const TensorInfo* v = nullptr;           // [n_kv_head * head_dim, hidden]
  const TensorInfo* q_bias = nullptr;      // [n_head * head_dim]      (attention_bias)
  const TensorInfo* k_bias = nullptr;      // [n_kv_head * head_dim]   (attention_bias)
  const TensorInfo* v_bias = nullptr;      // [n_kv_head * head_dim]   (attention_bias)
  const TensorInfo* q_norm = nullptr;      // [head_dim]               (qk_norm)
  const TensorInfo* k_norm = nullptr;      // [head_dim]               (qk_norm)
  const TensorInfo* o = nullptr;           // [hidden, n_head * head_dim]
  const TensorInfo* post_norm = nullptr;   // [hidden]
  const TensorInfo* gate = nullptr;        // [ffn, hidden]
  const TensorInfo* up = nullptr;          // [ffn, hidden]
  const TensorInfo* down = nullptr;        // [hidden, ffn]
};

struct ModelWeights {
  const TensorInfo* embed = nullptr;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  const TensorInfo* final_norm = nullptr;  // [hidden]
  const TensorInfo* lm_head = nullptr;     // [vocab, hidden]; the embedding when tied
};

class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& model_dir);
  // A checkpoint of `cfg`'s shape with random BF16 weights, built in memory (random_weights.cpp):
  // matrices uniform with standard deviation 1/sqrt(columns), norms 1. The same seed gives the
  // same weights. Text from it is noise; its speed is the real shape's.
  static Result<std::unique_ptr<Checkpoint>> random(const ModelConfig& cfg, uint64_t seed);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  // A hint that a tensor's bytes have been copied elsewhere (a backend's packed weights): a file
  // checkpoint's pages leave this process's resident set (the page cache keeps them; touched
  // again, they are read back, unchanged). Random weights live in anonymous memory and stay.
  void release(const TensorInfo* t) const;

 private:
  Checkpoint() = default;
  bool file_backed_ = false;
  std::string dir_;
  ModelConfig cfg_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  ModelWeights w_;
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool is_norm() const { return name.find("norm.weight") != std::string::npos; }
};
// Every tensor a config needs (lm_head only when untied), in checkpoint order.
std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg);

// Binds tensors (already validated files) to the config's expected names and shapes.
Result<ModelWeights> bind_weights(const ModelConfig& cfg,
                                  const std::vector<const SafetensorsFile*>& files);

}  // namespace wedlm
