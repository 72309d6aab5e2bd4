// The OpenAI wire format of replies: chat completions and completions, whole or as stream chunks,
// usage (with cached prompt tokens and WeDLM's timings) and log-probabilities. Pure functions of
// their arguments: no engine, no HTTP.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "ops/sampling/sampling.h"
#include "server/tool_call_stream.h"
#include "server/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace wedlm::server {

using ojson = nlohmann::ordered_json;

// What every object of one reply carries.
struct ReplyHeader {
  bool chat = true;
  std::string id;  // chatcmpl-... / cmpl-...
  std::string model;
  int64_t created = 0;  // unix seconds
  int index = 0;        // the choice (n > 1)
};

// The engine's finish reason as OpenAI names it ("cancelled" becomes "abort").
std::string finish_reason_of(const std::string& engine_reason);
ojson usage_of(const RequestCounters& c);
// The counters of a request's choices as its usage counts them: the prompt once, the completions
// summed, the times of the slowest.
RequestCounters merged(const std::vector<RequestCounters>& choices);

// Log-probabilities of `ids` (stop-id tokens left out): chat's {"content": [...]} or the
// completions API's {"tokens", "token_logprobs", "top_logprobs", "text_offset"}; `offset` is where
// these tokens' text starts in the completion (completions only).
ojson chat_logprobs(const Tokenizer& tok, std::span<const int32_t> ids,
                    std::span<const TokenLogprob> lps, std::span<const int64_t> stop_ids);
ojson completion_logprobs(const Tokenizer& tok, std::span<const int32_t> ids,
                          std::span<const TokenLogprob> lps, std::span<const int64_t> stop_ids,
                          size_t offset);

// A whole (non-streamed) reply. `logprobs` is null when not asked for. With tool calls (chat),
// `text` is the content before them (null when empty) and the finish reason "tool_calls".
ojson full_reply(const ReplyHeader& h, const std::string& text, const std::string& finish_reason,
                 const ojson& logprobs, const RequestCounters& c,
                 const std::vector<ParsedToolCall>& calls = {});
// A chat stream chunk carrying tool calls (each whole, with its index and a fresh id).
ojson tool_calls_chunk(const ReplyHeader& h, const std::vector<ParsedToolCall>& calls);
// A chat stream chunk with one piece of a call being streamed (tool_call_stream.h): its first
// carries id, type and name; the next ones a piece of its arguments.
ojson tool_call_delta_chunk(const ReplyHeader& h, const ToolCallDelta& d);
// One stream chunk: a delta of text (chat: the first also carries the role), a finish reason
// (null while running), log-probabilities of its tokens.
ojson chunk(const ReplyHeader& h, const std::string& text, bool first,
            const std::string& finish_reason, const ojson& logprobs);
// The last chunk of a stream with stream_options.include_usage: no choices, the usage.
ojson usage_chunk(const ReplyHeader& h, const RequestCounters& c);
// "data: <json>\n\n"
std::string sse(const ojson& j);

}  // namespace wedlm::server
