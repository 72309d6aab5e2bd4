#include "server/openai_format.h"

#include <algorithm>
#include <cmath>

#include "server/ids.h"
#include "tokenizer/utf8.h"

namespace wedlm::server {
namespace {

bool is_stop(int32_t id, std::span<const int64_t> stop_ids) {
  return std::find(stop_ids.begin(), stop_ids.end(), int64_t(id)) != stop_ids.end();
}

std::string bytes_of(const Tokenizer& tok, int32_t id) {
  const int32_t one[1] = {id};
  auto b = tok.decode_bytes(one, false);
  return b.is_ok() ? b.value() : std::string();
}

std::string text_of(const Tokenizer& tok, int32_t id) {
  const int32_t one[1] = {id};
  auto t = tok.decode(one, false);
  return t.is_ok() ? t.value() : std::string();
}

// JSON has no infinities: a token outside the candidates gets vLLM's -9999.
double finite(float lp) { return std::isfinite(lp) ? double(lp) : -9999.0; }

ojson token_entry(const Tokenizer& tok, int32_t id, float lp) {
  const std::string b = bytes_of(tok, id);
  ojson bytes = ojson::array();
  for (unsigned char c : b) bytes.push_back(int(c));
  return {{"token", text_of(tok, id)}, {"logprob", finite(lp)}, {"bytes", bytes}};
}

}  // namespace

std::string finish_reason_of(const std::string& engine_reason) {
  return engine_reason == "cancelled" ? "abort" : engine_reason;
}

RequestCounters merged(const std::vector<RequestCounters>& choices) {
  RequestCounters m = choices.at(0);
  for (size_t i = 1; i < choices.size(); ++i) {
    const RequestCounters& c = choices[i];
    m.cached_tokens = std::max(m.cached_tokens, c.cached_tokens);
    m.completion_tokens += c.completion_tokens;
    m.forwards += c.forwards;
    m.prefill_tokens += c.prefill_tokens;
    m.preemptions += c.preemptions;
    m.queue_ms = std::max(m.queue_ms, c.queue_ms);
    m.first_token_ms = std::min(m.first_token_ms, c.first_token_ms);
    m.prefill_ms = std::max(m.prefill_ms, c.prefill_ms);
    m.total_ms = std::max(m.total_ms, c.total_ms);
  }
  return m;
}

ojson usage_of(const RequestCounters& c) {
  const double decode_ms = std::max(0.0, c.total_ms - c.queue_ms - c.prefill_ms);
  const auto round2 = [](double v) { return std::round(v * 100) / 100; };
  return {{"prompt_tokens", c.prompt_tokens},
          {"completion_tokens", c.completion_tokens},
          {"total_tokens", c.prompt_tokens + c.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", c.cached_tokens}}},
          {"timings",
           {{"queue_ms", round2(c.queue_ms)},
            {"prefill_ms", round2(c.prefill_ms)},
            {"ttft_ms", round2(c.first_token_ms)},
            {"decode_ms", round2(decode_ms)},
            {"total_ms", round2(c.total_ms)},
            {"forwards", c.forwards},
            {"tokens_per_forward",
             round2(c.forwards ? double(c.completion_tokens) / double(c.forwards) : 0.0)},
            {"tokens_per_s",
             round2(decode_ms > 0 ? double(c.completion_tokens) * 1000.0 / decode_ms : 0.0)}}}};
}

ojson chat_logprobs(const Tokenizer& tok, std::span<const int32_t> ids,
                    std::span<const TokenLogprob> lps, std::span<const int64_t> stop_ids) {
  ojson content = ojson::array();
  for (size_t i = 0; i < ids.size() && i < lps.size(); ++i) {
    if (is_stop(ids[i], stop_ids)) continue;
    ojson e = token_entry(tok, ids[i], lps[i].logprob);
    ojson top = ojson::array();
    for (const TopLogprob& t : lps[i].top) top.push_back(token_entry(tok, t.id, t.logprob));
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

ojson completion_logprobs(const Tokenizer& tok, std::span<const int32_t> ids,
                          std::span<const TokenLogprob> lps, std::span<const int64_t> stop_ids,
                          size_t offset) {
  ojson tokens = ojson::array(), values = ojson::array(), tops = ojson::array(),
        offsets = ojson::array();
  for (size_t i = 0; i < ids.size() && i < lps.size(); ++i) {
    if (is_stop(ids[i], stop_ids)) continue;
    const std::string t = text_of(tok, ids[i]);
    tokens.push_back(t);
    values.push_back(finite(lps[i].logprob));
    ojson top = ojson::object();
    for (const TopLogprob& c : lps[i].top) top[text_of(tok, c.id)] = finite(c.logprob);
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += t.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", values},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

namespace {

ojson head(const ReplyHeader& h, bool chunk) {
  const char* object =
      h.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", h.id},
          {"object", object},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", nullptr}};
}

ojson reason_or_null(const std::string& r) { return r.empty() ? ojson() : ojson(r); }

ojson tool_calls_json(const std::vector<ParsedToolCall>& calls, bool indexed) {
  ojson out = ojson::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    ojson c;
    if (indexed) c["index"] = i;
    c["id"] = request_id("call_", int64_t(i));
    c["type"] = "function";
    c["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

ojson full_reply(const ReplyHeader& h, const std::string& text, const std::string& finish_reason,
                 const ojson& logprobs, const RequestCounters& c,
                 const std::vector<ParsedToolCall>& calls) {
  ojson r = head(h, false);
  ojson choice = {{"index", h.index}};
  if (h.chat) {
    const bool no_content =
        !calls.empty() && text.find_first_not_of(" \t\r\n") == std::string::npos;
    choice["message"] = {{"role", "assistant"},
                         {"content", no_content ? ojson() : ojson(text)},
                         {"refusal", nullptr}};
    if (!calls.empty()) choice["message"]["tool_calls"] = tool_calls_json(calls, false);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = calls.empty() ? finish_reason : "tool_calls";
  r["choices"] = ojson::array({std::move(choice)});
  r["usage"] = usage_of(c);
  return r;
}

ojson chunk(const ReplyHeader& h, const std::string& text, bool first,
            const std::string& finish_reason, const ojson& logprobs) {
  ojson r = head(h, true);
  ojson choice = {{"index", h.index}};
  if (h.chat) {
    ojson delta = ojson::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = reason_or_null(finish_reason);
  r["choices"] = ojson::array({std::move(choice)});
  return r;
}

ojson tool_calls_chunk(const ReplyHeader& h, const std::vector<ParsedToolCall>& calls) {
  ojson r = head(h, true);
  r["choices"] = ojson::array({{{"index", h.index},
                                {"delta", {{"tool_calls", tool_calls_json(calls, true)}}},
                                {"logprobs", nullptr},
                                {"finish_reason", nullptr}}});
  return r;
}

ojson tool_call_delta_chunk(const ReplyHeader& h, const ToolCallDelta& d) {
  ojson call = {{"index", d.index}};
  if (d.first) {
    call["id"] = d.id;
    call["type"] = "function";
    call["function"] = {{"name", d.name}, {"arguments", ""}};
  } else {
    call["function"] = {{"arguments", d.arguments}};
  }
  ojson r = head(h, true);
  r["choices"] = ojson::array({{{"index", h.index},
                                {"delta", {{"tool_calls", ojson::array({call})}}},
                                {"logprobs", nullptr},
                                {"finish_reason", nullptr}}});
  return r;
}

ojson usage_chunk(const ReplyHeader& h, const RequestCounters& c) {
  ojson r = head(h, true);
  r["choices"] = ojson::array();
  r["usage"] = usage_of(c);
  return r;
}

std::string sse(const ojson& j) {
  return "data: " + j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
         "\n\n";
}

}  // namespace wedlm::server
