#include "io/model_config.h"

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "io/mapped_file.h"

namespace wedlm {
namespace {

using nlohmann::json;

Status bad(const std::string& path, const std::string& what) {
  return Status(ErrorKind::kInvalidArgument, fmt::format("{}: {}", path, what));
}

// An integer field in [lo, hi]; `fallback` < 0 means required.
Status get_int(const std::string& path, const json& j, const char* key, int64_t lo, int64_t hi,
               int64_t fallback, int64_t& out) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback < 0) return bad(path, fmt::format("missing required field '{}'", key));
    out = fallback;
    return Status::ok();
  }
  if (!j[key].is_number_integer())
    return bad(path, fmt::format("field '{}' must be an integer, got {}", key, j[key].dump()));
  out = j[key].get<int64_t>();
  if (out < lo || out > hi)
    return bad(path, fmt::format("field '{}' = {} is out of range [{}, {}]", key, out, lo, hi));
  return Status::ok();
}

Status get_double(const std::string& path, const json& j, const char* key, double lo, double hi,
                  double fallback, double& out) {
  out = fallback;
  if (!j.contains(key) || j[key].is_null()) return Status::ok();
  if (!j[key].is_number())
    return bad(path, fmt::format("field '{}' must be a number, got {}", key, j[key].dump()));
  out = j[key].get<double>();
  if (!(out > lo && out <= hi))
    return bad(path, fmt::format("field '{}' = {} is out of range ({}, {}]", key, out, lo, hi));
  return Status::ok();
}

Status get_bool(const std::string& path, const json& j, const char* key, bool fallback, bool& out) {
  out = fallback;
  if (!j.contains(key) || j[key].is_null()) return Status::ok();
  if (!j[key].is_boolean())
    return bad(path, fmt::format("field '{}' must be true or false, got {}", key, j[key].dump()));
  out = j[key].get<bool>();
  return Status::ok();
}

Status add_eos_ids(const std::string& path, const json& j, ModelConfig& cfg) {
  if (!j.contains("eos_token_id") || j["eos_token_id"].is_null()) return Status::ok();
  const json& e = j["eos_token_id"];
  std::vector<json> ids =
      e.is_array() ? std::vector<json>(e.begin(), e.end()) : std::vector<json>{e};
  for (const json& id : ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= cfg.vocab_size)
      return bad(path, fmt::format("eos_token_id {} is not a token id below vocab_size {}",
                                   id.dump(), cfg.vocab_size));
    if (std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), id.get<int64_t>()) ==
        cfg.eos_token_ids.end())
      cfg.eos_token_ids.push_back(id.get<int64_t>());
  }
  return Status::ok();
}

Status read_family(const std::string& path, const json& j, ModelConfig& c) {
  if (!j.contains("model_type") || !j["model_type"].is_string())
    return bad(path, "missing 'model_type' (expected wedlm, qwen3 or qwen2)");
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type == "wedlm")
    c.family = ModelFamily::kWeDLM;
  else if (c.model_type == "qwen3")
    c.family = ModelFamily::kQwen3;
  else if (c.model_type == "qwen2")
    c.family = ModelFamily::kQwen2;
  else
    return Status(ErrorKind::kUnsupported,
                  fmt::format("{}: model_type '{}' is not supported (expected wedlm, qwen3 or "
                              "qwen2)",
                              path, c.model_type));
  if (j.contains("hidden_act") && j["hidden_act"] != "silu")
    return Status(ErrorKind::kUnsupported,
                  fmt::format("{}: hidden_act {} is not supported (silu only)", path,
                              j["hidden_act"].dump()));
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    return Status(ErrorKind::kUnsupported,
                  fmt::format("{}: rope_scaling {} is not supported (WeDLM uses none)", path,
                              j["rope_scaling"].dump()));
  return Status::ok();
}

// attention_bias / qk_norm defaults: Qwen2 has biases and no QK norm, Qwen3 the reverse; a wedlm
// config without the fields follows the Tencent engine (bias defaults to true, QK norm iff no
// bias).
Status read_variant(const std::string& path, const json& j, ModelConfig& c) {
  const bool bias_default = c.family != ModelFamily::kQwen3;
  WEDLM_RETURN_IF_ERROR(get_bool(path, j, "attention_bias", bias_default, c.attention_bias));
  const bool qk_default =
      c.family == ModelFamily::kQwen3 || (c.family == ModelFamily::kWeDLM && !c.attention_bias);
  return get_bool(path, j, "qk_norm", qk_default, c.qk_norm);
}

Status read_shape(const std::string& path, const json& j, ModelConfig& c) {
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "vocab_size", 1, 1 << 24, -1, c.vocab_size));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "hidden_size", 1, 1 << 16, -1, c.hidden_size));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "intermediate_size", 1, 1 << 20, -1, c.intermediate_size));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "num_hidden_layers", 1, 1024, -1, c.n_layer));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "num_attention_heads", 1, 1024, -1, c.n_head));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "num_key_value_heads", 1, 1024, c.n_head, c.n_kv_head));
  if (c.n_head % c.n_kv_head != 0)
    return bad(path, fmt::format("num_attention_heads {} is not a multiple of "
                                 "num_key_value_heads {}",
                                 c.n_head, c.n_kv_head));
  const bool derived = !j.contains("head_dim") || j["head_dim"].is_null();
  if (derived && c.hidden_size % c.n_head != 0)
    return bad(path, fmt::format("no head_dim, and hidden_size {} is not divisible by "
                                 "num_attention_heads {}",
                                 c.hidden_size, c.n_head));
  WEDLM_RETURN_IF_ERROR(
      get_int(path, j, "head_dim", 2, 1024, c.hidden_size / c.n_head, c.head_dim));
  if (c.head_dim % 2 != 0)
    return bad(path, fmt::format("head_dim {} must be even (RoPE rotates halves)", c.head_dim));
  return Status::ok();
}

// A JSON object, or a Status naming the file and the parser's complaint.
Result<json> parse_object(const std::string& path, const std::string& text) {
  json j;
  if (json_depth(text) > kMaxJsonDepth)  // printing such a value in an error would overflow
    return Status(ErrorKind::kCorruptFile, fmt::format("{}: nests arrays and objects more than {} "
                                                       "deep",
                                                       path, kMaxJsonDepth));
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status(ErrorKind::kCorruptFile, fmt::format("{}: bad JSON: {}", path, e.what()));
  }
  if (!j.is_object()) return Status(ErrorKind::kCorruptFile, path + ": not a JSON object");
  return j;
}

}  // namespace

Result<ModelConfig> parse_model_config(const std::string& path, const std::string& text) {
  auto parsed = parse_object(path, text);
  if (!parsed.is_ok()) return parsed.status();
  const json& j = parsed.value();
  ModelConfig c;
  WEDLM_RETURN_IF_ERROR(read_family(path, j, c));
  WEDLM_RETURN_IF_ERROR(read_shape(path, j, c));
  WEDLM_RETURN_IF_ERROR(read_variant(path, j, c));
  WEDLM_RETURN_IF_ERROR(get_double(path, j, "rms_norm_eps", 0.0, 1.0, 1e-6, c.rms_norm_eps));
  WEDLM_RETURN_IF_ERROR(get_double(path, j, "rope_theta", 0.0, 1e12, 10000.0, c.rope_theta));
  WEDLM_RETURN_IF_ERROR(get_int(path, j, "max_position_embeddings", 1, int64_t{1} << 24, -1,
                                c.max_position_embeddings));
  WEDLM_RETURN_IF_ERROR(get_bool(path, j, "tie_word_embeddings", false, c.tie_word_embeddings));
  WEDLM_RETURN_IF_ERROR(
      get_int(path, j, "mask_token_id", 0, c.vocab_size - 1, 151665, c.mask_token_id));
  if (c.mask_token_id >= c.vocab_size) {  // the 151665 default does not fit this vocabulary
    if (c.family == ModelFamily::kWeDLM)
      return bad(path, fmt::format("no mask_token_id, and the default 151665 is past vocab_size "
                                   "{}",
                                   c.vocab_size));
    c.mask_token_id = -1;  // a plain Qwen checkpoint: AR decoding only
  }
  WEDLM_RETURN_IF_ERROR(add_eos_ids(path, j, c));
  return c;
}

Status merge_generation_config(const std::string& path, const std::string& text, ModelConfig& cfg) {
  auto parsed = parse_object(path, text);
  if (!parsed.is_ok()) return parsed.status();
  return add_eos_ids(path, parsed.value(), cfg);
}

Result<ModelConfig> load_model_config(const std::string& model_dir) {
  const std::string cfg_path = model_dir + "/config.json";
  auto text = read_text_file(cfg_path);
  if (!text.is_ok()) return text.status();
  auto cfg = parse_model_config(cfg_path, text.value());
  if (!cfg.is_ok()) return cfg;
  const std::string gen_path = model_dir + "/generation_config.json";
  if (std::filesystem::exists(gen_path)) {
    auto gen = read_text_file(gen_path);
    if (!gen.is_ok()) return gen.status();
    WEDLM_RETURN_IF_ERROR(merge_generation_config(gen_path, gen.value(), cfg.value()));
  }
  return cfg;
}

std::string ModelConfig::summary() const {
  return fmt::format(
      "{}: {} layers, hidden {}, heads {}/{} x {}, ffn {}, vocab {}, qk_norm {}, "
      "qkv bias {}, tied {}, rope_theta {}, max_pos {}, mask {}, eos [{}]",
      model_type, n_layer, hidden_size, n_head, n_kv_head, head_dim, intermediate_size, vocab_size,
      qk_norm, attention_bias, tie_word_embeddings, rope_theta, max_position_embeddings,
      mask_token_id, fmt::join(eos_token_ids, ", "));
}

}  // namespace wedlm
