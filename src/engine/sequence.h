// A request inside the serving engine: its decoder (what to run next), its KV blocks and how far
// their K/V is computed, and the counters reported when it finishes.
// Owned by the Engine; the Scheduler holds pointers. Touched only by the engine loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "decode/sequence_decoder.h"
#include "engine/block_manager.h"

namespace wedlm {

struct SequenceCounters {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;   // prompt tokens found in the prefix cache at first admission
  int64_t prefill_tokens = 0;  // rows of prompt or output K/V computed outside decode steps
  int64_t preemptions = 0;
  double prefill_ms = 0;                 // wall time of the forwards that carried its prefill rows
  std::optional<double> queue_ms;        // submission to its first forward
  std::optional<double> first_token_ms;  // submission to the first committed token
};

struct Sequence {
  Sequence(uint64_t id_, std::span<const int32_t> prompt, GenerateParams p, const ModelFacts& m)
      : id(id_), decoder(prompt, std::move(p), m) {
    counters.prompt_tokens = int64_t(prompt.size());
  }

  uint64_t id;  // submission order: lower is older
  SequenceDecoder decoder;
  BlockTable table;  // empty while waiting
  int64_t n_kv = 0;  // leading tokens() whose K/V the table's blocks hold
  bool admitted_once = false;
  SequenceCounters counters;
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
};

}  // namespace wedlm
