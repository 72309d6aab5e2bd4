// Which device runs the model (--device, --gpu-memory-util) and the Forward on it. The one place
// in the tools that knows whether the CUDA backend was built (WEDLM_HAVE_CUDA).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"
#include "model/forward.h"
#include "tools/cli.h"

namespace wedlm::cli {

// "cpu" or "cuda" for --device auto|cpu|cuda (auto: cuda when built with it and a GPU is there).
Result<std::string> resolve_device(const CommonFlags& f);
// "CPU"/"CUDA" and the processor's name ("NVIDIA H100 80GB HBM3 (sm_90, ...)"), for reports.
std::pair<std::string, std::string> device_names(const std::string& device);
// KV bytes one token slot takes on `device` (fp32 on the CPU, bf16 on CUDA), all layers.
int64_t kv_bytes_per_token(const ModelConfig& cfg, const std::string& device);
// The model of `m` on `device` with a KV pool of `kv_tokens` slots in blocks of --kv-block;
// kv_tokens <= 0 on CUDA: as many as --gpu-memory-util of the GPU leaves after the weights.
Result<std::unique_ptr<Forward>> make_forward(const CommonFlags& f, const Loaded& m,
                                              const std::string& device, int64_t kv_tokens);

}  // namespace wedlm::cli
