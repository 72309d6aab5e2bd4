#include "io/weights.h"

#include <filesystem>
#include <map>
#include <set>

#include <sys/mman.h>
#include <unistd.h>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace wedlm {
namespace {

// Looks tensors up by name across files and remembers which were used.
class Binder {
 public:
  explicit Binder(const std::vector<const SafetensorsFile*>& files) : files_(files) {}

  Status index() {
    for (const SafetensorsFile* f : files_)
      for (const TensorInfo& t : f->tensors()) {
        const auto [it, fresh] = where_.emplace(t.name, std::make_pair(f, &t));
        if (!fresh)
          return Status(ErrorKind::kCorruptFile,
                        fmt::format("tensor '{}' is in both {} and {}", t.name,
                                    it->second.first->path(), f->path()));
      }
    return Status::ok();
  }

  Status bind(const std::string& name, std::vector<int64_t> shape, const TensorInfo*& out,
              bool optional = false) {
    const auto it = where_.find(name);
    if (it == where_.end()) {
      if (optional) return Status::ok();
      return Status(ErrorKind::kNotFound, fmt::format("missing tensor '{}' (expected shape [{}])",
                                                      name, fmt::join(shape, ", ")));
    }
    const TensorInfo* t = it->second.second;
    if (t->shape != shape)
      return Status(
          ErrorKind::kCorruptFile,
          fmt::format("{}: tensor '{}' has shape {}, expected [{}]", it->second.first->path(), name,
                      t->shape_str(), fmt::join(shape, ", ")));
    used_.insert(name);
    out = t;
    return Status::ok();
  }

  Status check_no_extra() const {
    std::vector<std::string> extra;
    for (const auto& [name, where] : where_)
      if (!used_.count(name)) extra.push_back(name);
    if (extra.empty()) return Status::ok();
    if (extra.size() > 5) extra.resize(5);
    return Status(ErrorKind::kCorruptFile,
                  fmt::format("{} unexpected tensor(s) for this config, e.g. {}",
                              where_.size() - used_.size(), fmt::join(extra, ", ")));
  }

 private:
  const std::vector<const SafetensorsFile*>& files_;
  std::map<std::string, std::pair<const SafetensorsFile*, const TensorInfo*>> where_;
  std::set<std::string> used_;
};

// The tensors of layer i of a config: suffix after "model.layers.{i}.", shape, where it binds.
struct LayerSlot {
  const char* suffix;
  std::vector<int64_t> shape;
  const TensorInfo* LayerWeights::*member;
};

std::vector<LayerSlot> layer_slots(const ModelConfig& c) {
  const int64_t H = c.hidden_size, q = c.n_head * c.head_dim, kv = c.n_kv_head * c.head_dim;
  const int64_t F = c.intermediate_size;
  std::vector<LayerSlot> s = {{"input_layernorm.weight", {H}, &LayerWeights::input_norm},
                              {"self_attn.q_proj.weight", {q, H}, &LayerWeights::q},
                              {"self_attn.k_proj.weight", {kv, H}, &LayerWeights::k},
                              {"self_attn.v_proj.weight", {kv, H}, &LayerWeights::v}};
  if (c.attention_bias)
    s.insert(s.end(), {{"self_attn.q_proj.bias", {q}, &LayerWeights::q_bias},
                       {"self_attn.k_proj.bias", {kv}, &LayerWeights::k_bias},
                       {"self_attn.v_proj.bias", {kv}, &LayerWeights::v_bias}});
  if (c.qk_norm)
    s.insert(s.end(), {{"self_attn.q_norm.weight", {c.head_dim}, &LayerWeights::q_norm},
                       {"self_attn.k_norm.weight", {c.head_dim}, &LayerWeights::k_norm}});
  s.insert(s.end(), {{"self_attn.o_proj.weight", {H, q}, &LayerWeights::o},
                     {"post_attention_layernorm.weight", {H}, &LayerWeights::post_norm},
                     {"mlp.gate_proj.weight", {F, H}, &LayerWeights::gate},
                     {"mlp.up_proj.weight", {F, H}, &LayerWeights::up},
                     {"mlp.down_proj.weight", {H, F}, &LayerWeights::down}});
  return s;
}

Status bind_layer(const ModelConfig& c, int64_t i, Binder& b, LayerWeights& w) {
  const std::string p = fmt::format("model.layers.{}.", i);
  for (const LayerSlot& slot : layer_slots(c))
    WEDLM_RETURN_IF_ERROR(b.bind(p + slot.suffix, slot.shape, w.*slot.member));
  return Status::ok();
}

// The safetensors files of a directory: those of model.safetensors.index.json, else
// model.safetensors.
Result<std::vector<std::string>> list_weight_files(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string index = dir + "/model.safetensors.index.json";
  if (!fs::exists(index)) {
    if (fs::exists(dir + "/model.safetensors"))
      return std::vector<std::string>{dir + "/model.safetensors"};
    return Status(ErrorKind::kNotFound,
                  fmt::format("{}: no model.safetensors or model.safetensors.index.json", dir));
  }
  auto text = read_text_file(index);
  if (!text.is_ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(text.value(), nullptr, false);
  if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object())
    return Status(ErrorKind::kCorruptFile, index + ": bad JSON or no 'weight_map' object");
  std::set<std::string> names;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string() || file.get<std::string>().find('/') != std::string::npos)
      return Status(ErrorKind::kCorruptFile,
                    fmt::format("{}: tensor '{}' maps to {}, not a file name in the directory",
                                index, tensor, file.dump()));
    names.insert(file.get<std::string>());
  }
  std::vector<std::string> files;
  for (const auto& n : names) files.push_back(dir + "/" + n);
  return files;
}

}  // namespace

Result<ModelWeights> bind_weights(const ModelConfig& c,
                                  const std::vector<const SafetensorsFile*>& files) {
  Binder b(files);
  WEDLM_RETURN_IF_ERROR(b.index());
  ModelWeights w;
  WEDLM_RETURN_IF_ERROR(
      b.bind("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, w.embed));
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i)
    WEDLM_RETURN_IF_ERROR(bind_layer(c, i, b, w.layers[static_cast<size_t>(i)]));
  WEDLM_RETURN_IF_ERROR(b.bind("model.norm.weight", {c.hidden_size}, w.final_norm));
  // A tied checkpoint may still carry a copy of lm_head; the embedding is used either way.
  WEDLM_RETURN_IF_ERROR(
      b.bind("lm_head.weight", {c.vocab_size, c.hidden_size}, w.lm_head, c.tie_word_embeddings));
  if (c.tie_word_embeddings) w.lm_head = w.embed;
  WEDLM_RETURN_IF_ERROR(b.check_no_extra());
  return w;
}

void Checkpoint::release(const TensorInfo* t) const {
  if (!file_backed_ || t == nullptr) return;
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  const auto at = reinterpret_cast<uintptr_t>(t->data);
  const uintptr_t begin = (at + page - 1) / page * page, end = (at + t->nbytes) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& model_dir) {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->file_backed_ = true;
  ck->dir_ = model_dir;
  auto cfg = load_model_config(model_dir);
  if (!cfg.is_ok()) return cfg.status();
  ck->cfg_ = std::move(cfg).value();
  auto paths = list_weight_files(model_dir);
  if (!paths.is_ok()) return paths.status();
  std::vector<const SafetensorsFile*> views;
  for (const std::string& p : paths.value()) {
    auto f = SafetensorsFile::open(p);
    if (!f.is_ok()) return f.status();
    ck->files_.push_back(std::move(f).value());
    views.push_back(ck->files_.back().get());
  }
  auto w = bind_weights(ck->cfg_, views);
  if (!w.is_ok())
    return Status(w.status().kind(), fmt::format("{}: {}", model_dir, w.status().message()));
  ck->w_ = std::move(w).value();
  return ck;
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  std::vector<TensorSpec> out = {{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}}};
  for (int64_t i = 0; i < c.n_layer; ++i)
    for (const LayerSlot& slot : layer_slots(c))
      out.push_back({fmt::format("model.layers.{}.{}", i, slot.suffix), slot.shape});
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

}  // namespace wedlm
