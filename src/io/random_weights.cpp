// Checkpoint::random and the named shapes of `--random-weights`.
#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "io/random_weights.h"
#include "io/weights.h"

namespace wedlm {
namespace {

uint64_t mix(uint64_t z) {  // splitmix64's finaliser: a counter-based generator
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Fills n BF16 values uniform in [-a, a], value i from (seed, stream, i) alone, on all cores.
void fill_uniform(uint16_t* out, size_t n, float a, uint64_t seed, uint64_t stream) {
  const size_t n_threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < n_threads; ++t)
    pool.emplace_back([=] {
      const uint64_t base = mix(seed * 0x9e3779b97f4a7c15ull + stream);
      for (size_t i = n * t / n_threads; i < n * (t + 1) / n_threads; ++i) {
        const double u = double(mix(base + i) >> 11) * 0x1.0p-53;  // [0, 1)
        out[i] = f32_to_bf16(float((2 * u - 1) * a));
      }
    });
  for (std::thread& th : pool) th.join();
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::random(const ModelConfig& cfg, uint64_t seed) {
  const std::vector<TensorSpec> specs = expected_tensors(cfg);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  size_t offset = 0;
  for (const TensorSpec& t : specs) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= size_t(d);
    header[t.name] = {
        {"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 2 * n}}};
    offset += 2 * n;
  }
  std::string h = header.dump();
  h.resize((h.size() + 7) / 8 * 8, ' ');  // data aligned to 8 bytes
  const std::string name =
      fmt::format("random weights ({} layers, hidden {})", cfg.n_layer, cfg.hidden_size);
  auto image = MappedFile::anonymous(name, 8 + h.size() + offset);
  if (!image.is_ok()) return image.status();
  uint8_t* p = image.value()->writable();
  const uint64_t hlen = h.size();
  std::memcpy(p, &hlen, 8);  // little-endian, as safetensors
  std::memcpy(p + 8, h.data(), h.size());
  uint16_t* data = reinterpret_cast<uint16_t*>(p + 8 + h.size());
  for (size_t k = 0; k < specs.size(); ++k) {
    const TensorSpec& t = specs[k];
    const size_t n = size_t(header[t.name]["data_offsets"][1].get<size_t>() -
                            header[t.name]["data_offsets"][0].get<size_t>()) /
                     2;
    uint16_t* at = data + header[t.name]["data_offsets"][0].get<size_t>() / 2;
    if (t.is_norm())
      std::fill(at, at + n, f32_to_bf16(1.0f));
    else
      fill_uniform(at, n, float(std::sqrt(3.0 / double(t.shape.back()))), seed, k);
  }
  auto file = SafetensorsFile::from_image(std::move(image).value());
  if (!file.is_ok()) return file.status();
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->dir_ = name;
  ck->cfg_ = cfg;
  ck->files_.push_back(std::move(file).value());
  auto w = bind_weights(ck->cfg_, {ck->files_.back().get()});
  if (!w.is_ok()) return w.status();
  ck->w_ = std::move(w).value();
  return ck;
}

Result<ModelConfig> random_shape(const std::string& name) {
  struct Shape {
    const char* name;
    int64_t layers, hidden, heads, kv_heads, ffn;
    bool tied;
  };
  static const Shape kShapes[] = {{"qwen3-0.6b", 28, 1024, 16, 8, 3072, true},
                                  {"qwen3-1.7b", 28, 2048, 16, 8, 6144, true},
                                  {"qwen3-4b", 36, 2560, 32, 8, 9728, true},
                                  {"qwen3-8b", 36, 4096, 32, 8, 12288, false},
                                  {"wedlm-8b", 36, 4096, 32, 8, 12288, false}};
  std::string known;
  for (const Shape& s : kShapes) {
    known += std::string(known.empty() ? "" : ", ") + s.name;
    if (name != s.name) continue;
    ModelConfig c;
    c.model_type = "wedlm";
    c.vocab_size = 151936;
    c.hidden_size = s.hidden;
    c.intermediate_size = s.ffn;
    c.n_layer = s.layers;
    c.n_head = s.heads;
    c.n_kv_head = s.kv_heads;
    c.head_dim = 128;
    c.rope_theta = 1e6;
    c.max_position_embeddings = 4096;
    c.tie_word_embeddings = s.tied;
    c.qk_norm = true;
    c.mask_token_id = 151665;
    c.eos_token_ids = {151645};
    return c;
  }
  return Status(ErrorKind::kInvalidArgument,
                fmt::format("unknown random-weights shape '{}' (known: {})", name, known));
}

}  // namespace wedlm
