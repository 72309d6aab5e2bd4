// Model shapes for random-weight checkpoints (`--random-weights`): real architectures' sizes
// (Qwen3 0.6B to 8B, WeDLM-8B), so that speed can be measured without downloading weights.
// Checkpoint::random (weights.h) builds the weights.
#pragma once

#include <string>

#include "core/status.h"
#include "io/model_config.h"

namespace wedlm {

// "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "wedlm-8b" (= qwen3-8b's shape).
Result<ModelConfig> random_shape(const std::string& name);

}  // namespace wedlm
