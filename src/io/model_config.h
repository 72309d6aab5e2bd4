// ModelConfig: the immutable description of a checkpoint, read from config.json (and the stop ids
// of generation_config.json). Values are validated: a missing or out-of-range field is a Status
// naming the file, the field and the value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace wedlm {

enum class ModelFamily { kWeDLM, kQwen3, kQwen2 };

struct ModelConfig {
  ModelFamily family = ModelFamily::kWeDLM;
  std::string model_type;  // as written in config.json
  int64_t vocab_size = 0;  // embedding rows
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;  // given, or hidden_size / n_head
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;         // q/k/v biases
  bool qk_norm = false;                // per-head RMSNorm of q and k before RoPE
  int64_t mask_token_id = 151665;      // -1: none (a Qwen checkpoint whose vocab lacks it)
  std::vector<int64_t> eos_token_ids;  // config.json and generation_config.json, deduplicated

  std::string summary() const;  // one line for `wedlm info` and startup banners
};

// Parses config.json text; `path` names it in errors.
Result<ModelConfig> parse_model_config(const std::string& path, const std::string& text);
// Adds generation_config.json's eos ids (an int or a list) to cfg.eos_token_ids.
Status merge_generation_config(const std::string& path, const std::string& text, ModelConfig& cfg);
// Reads DIR/config.json and, if present, DIR/generation_config.json.
Result<ModelConfig> load_model_config(const std::string& model_dir);

}  // namespace wedlm
