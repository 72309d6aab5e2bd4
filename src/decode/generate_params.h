// Parameters and results of decoding one sequence (wedlm-spec.md §3.5-3.7), shared by generate()
// and the serving engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "constrain/token_masks.h"
#include "core/status.h"
#include "decode/stop_strings.h"
#include "io/model_config.h"
#include "ops/sampling/sampling.h"

namespace wedlm {

enum class DecodeMode { kWeDLM, kAR };

// What decoding needs to know of the model, the same for every request: set once for an engine
// or a generate() call (facts_of, then the tools add the tokenizer's end tokens and text).
struct ModelFacts {
  int64_t vocab_size = 0;
  int64_t mask_id = -1;           // required for WeDLM
  int64_t context = 4096;         // max logical slots (prompt + output + window)
  std::vector<int64_t> stop_ids;  // end generation (eos ids, chat and document ends)
  TextFn text;                    // ids -> text, for stop strings (null: none can match)
};

// The checkpoint's facts: its vocabulary, mask id, full context and eos ids.
ModelFacts facts_of(const ModelConfig& cfg);

// One request's decoding parameters; each default here is the CLI's (tools/cli.h binds its flags
// to these fields).
struct GenerateParams {
  DecodeMode mode = DecodeMode::kWeDLM;
  int64_t max_tokens = 64;
  std::vector<std::string> stop_strings;  // matched on text (ModelFacts::text)
  bool ignore_eos = false;                // the model's stop ids do not end generation (benchmarks)
  SamplingParams sampling;
  int64_t window = 16;
  std::optional<double> threshold = 0.4;
  double penalty = 0.02;
  // -1: off. 0-20: record each output token's log-probability (ops/sampling: token_logprob) and
  // this many likeliest alternatives.
  int64_t logprobs = -1;
  // OpenAI's penalties ([-2, 2]: subtracted from a token's logit once it occurs in the output,
  // presence once, frequency per occurrence), vLLM's repetition_penalty (> 0, 1 = off; HF's rule
  // on the prompt's and the output's tokens) and logit_bias (id, [-100, 100] added). In WeDLM a
  // step's rows all see the output committed so far plus the window's filled tokens: tokens
  // filled in the same step do not penalise each other.
  double presence_penalty = 0, frequency_penalty = 0, repetition_penalty = 1;
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::vector<int32_t> banned_ids;  // never drawn (tool_choice "none": the tool-call token)
  // A grammar the output must follow (constrain/: JSON Schema, tool calls); null: none. AR draws
  // each token from the allowed set; WeDLM fills slots left to right only, each from the set
  // after the tokens to its left (sequence_decoder.h).
  std::shared_ptr<const constrain::TokenMasks> constraint;
  // With a constraint: decoding is free until this token is committed, and the constraint
  // applies to what follows it (tool_choice auto: the tool-call token). WeDLM places it only at
  // the end of the filled run, with every slot before it filled (sequence_decoder.h). -1: none.
  int32_t trigger_id = -1;
};

struct StepTrace {  // one WeDLM forward: committed count, fills (slot, token)
  int64_t commit = 0;
  std::vector<std::pair<int64_t, int32_t>> fill;
};

struct GenerateResult {
  std::vector<int32_t> output;
  std::string finish_reason;  // "stop" | "length"
  int64_t forwards = 0;       // decode forwards (AR: one per token, prefill included)
  double prefill_ms = 0, decode_ms = 0;
  std::vector<StepTrace> steps;        // WeDLM only
  std::vector<TokenLogprob> logprobs;  // with params.logprobs >= 0: one per output token
  std::optional<size_t> text_end;      // set by a stop string: the reply text ends here
  double tokens_per_forward() const {
    return forwards ? double(output.size()) / double(forwards) : 0.0;
  }
};

// Checks parameters and prompt ids against the model; the message names the parameter and value.
// Requests are checked once, where they enter: Engine::submit, generate().
Status validate(const GenerateParams& p, std::span<const int32_t> prompt, const ModelFacts& m);

}  // namespace wedlm
