// OpenAI request bodies -> engine requests. Chat messages go through the model's chat template;
// completion prompts are text (special tokens parsed) or token ids. Every field OpenAI defines for
// these endpoints is either honoured or, when it would change the answer and this server cannot
// honour it (best_of > 1, echo, suffix), refused by name; unknown fields are
// ignored. Extra fields: wedlm_window, wedlm_threshold (a number, or null for one slot per step),
// wedlm_penalty, decode_mode ("wedlm" | "ar"), chat_template_kwargs.enable_thinking, and vLLM's
// ignore_eos (generate max_tokens tokens; for benchmarks). response_format (json_object,
// json_schema) and tool_choice (required, a named function) become the request's constraint
// (server/constraints.h).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/api_error.h"
#include "server/served_model.h"

namespace wedlm::server {

struct ApiRequest {
  bool chat = false;  // /v1/chat/completions (else /v1/completions)
  std::string model;  // the name replies carry: the request's, else the served one
  Request engine;     // prompt ids and decoding parameters
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
  int64_t top_logprobs = 0;
  std::string user;
  bool tools = false;  // tools offered (tool_choice not "none"): parse tool calls
  // tool_choice "required" or named: the reply is calls (streamed as such)
  bool calls_enforced = false;
  // choices: each its own engine request with seed + its index (the prompt's KV is shared
  // through the prefix cache)
  int64_t n = 1;
};

inline constexpr int64_t kMaxChoices = 16;  // the most `n` a request may ask

template <class T>
using ApiResult = std::variant<T, ApiError>;

// A request whose "model" this server does not serve gets 404 model_not_found naming it (vLLM's
// and OpenAI's answer); one without "model" is for the served model.
// `seed` is used when the request has none (a fresh one per request gives OpenAI's behaviour).
ApiResult<ApiRequest> parse_chat(const nlohmann::ordered_json& body, const ServedModel& m,
                                 uint64_t seed);
ApiResult<ApiRequest> parse_completion(const nlohmann::ordered_json& body, const ServedModel& m,
                                       uint64_t seed);
// The conversation of a body with "messages" (and "tools", "add_generation_prompt",
// "chat_template_kwargs"), as the chat template takes it.
ApiResult<ChatRequest> parse_conversation(const nlohmann::ordered_json& body);

}  // namespace wedlm::server
