// Choosing and sizing the forward: the device, its KV pool and its options, in one spec that the
// tools set from flags. The one place outside src/ops/cuda that knows whether the CUDA backend
// was built (WEDLM_HAVE_CUDA).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"
#include "io/weights.h"
#include "model/forward.h"

namespace wedlm {

// A KV pool size as given: token slots, or bytes (converted by the device's bytes per token);
// neither: the device's default.
struct KvSize {
  int64_t tokens = 0;
  double bytes = 0;
};

struct ForwardSpec {
  std::string device = "auto";        // auto (CUDA when built with it and a GPU is present), cpu,
                                      // cuda
  int64_t block_size = 16;            // KV slots per block
  KvSize kv;                          // default: CPU 4 x the context; CUDA what gpu_memory_util
                                      // leaves after the weights
  double gpu_memory_util = 0.9;       // CUDA: share of the GPU's memory the process may take
  bool cuda_graphs = false;           // CUDA: replay graphs for repeated step shapes
  bool cuda_tiled_attention = false;  // CUDA: tensor-core attention for segments of 64+ rows
  bool cuda_op_times = false;         // CUDA: time each operation (Forward::profile())
};

// Checks the spec's values; "cpu" or "cuda" for its device.
Result<std::string> resolve_device(const ForwardSpec& spec);
// "CPU"/"CUDA" and the processor's name ("NVIDIA H100 80GB HBM3 (sm_90, ...)"), for reports.
std::pair<std::string, std::string> device_names(const std::string& device);
// KV bytes one token slot takes on `device` (fp32 on the CPU, bf16 on CUDA), all layers.
int64_t kv_bytes_per_token(const ModelConfig& cfg, const std::string& device);
// Parses a KV size: a token count ("8192"), or bytes with a unit ("512MiB", "2GiB", "1.5GB").
// The message names the text when it is not a size.
Result<KvSize> parse_kv_size(const std::string& text);

// The forward `spec` describes over `ck`. `cpu_model` gives the CPU Model (built on first use:
// packing the weights costs ~0.5 s a GB, which a run on another device never pays).
Result<std::unique_ptr<Forward>> make_forward(const ForwardSpec& spec, const Checkpoint& ck,
                                              const std::function<Model&()>& cpu_model);

}  // namespace wedlm
