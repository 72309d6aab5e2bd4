// Single-sequence generation: WeDLM streaming parallel decoding (wedlm-spec.md §3.4-3.6, Tencent
// engine semantics) and plain AR decoding, with stop ids, max_tokens and the context limit.
//
// WeDLM step: top the window up to W + n slots (n = leading filled run) within the context; rows =
// filled slots then masks (ascending), RoPE at L + slot, KV at slots L.. in row order; commit the
// leading filled run (a stop id ends generation and is kept; max_tokens ends it; later tokens of
// the run are dropped); then for every remaining mask, entropy of the raw logits and a token drawn
// by the sampler (all masks, in slot order); fill those with entropy + penalty * (slot - first mask
// slot) < threshold, else the argmin; threshold unset = one slot per step.
// Context: prompt + window never exceeds `context`; the window shrinks near it, and generation
// ends with "length" once every slot is committed. The mask token is never emitted.
#pragma once

#include <functional>
#include <span>

#include "decode/generate_params.h"
#include "model/forward.h"

namespace wedlm {

// Called with each run of newly committed tokens, in order.
using CommitFn = std::function<void(std::span<const int32_t>)>;

// Decodes one sequence of the model `m` describes on `forward`, whose whole KV pool it uses (it
// must hold the sequence's peak slots: SequenceDecoder::peak_slots), through the step path the
// engine takes (StepBatch).
Result<GenerateResult> generate(Forward& forward, const ModelFacts& m,
                                std::span<const int32_t> prompt, const GenerateParams& p,
                                const CommitFn& on_commit = nullptr);

}  // namespace wedlm
