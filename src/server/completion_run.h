// One completion request from submission to its last byte: streams the engine's events as SSE
// chunks (text held back at possible stop strings, log-probabilities with their tokens, the usage
// chunk, "data: [DONE]") or collects them into one reply. With tools offered, tool calls in the
// reply become OpenAI tool_calls. A client that goes away, the request
// timeout and server shutdown cancel the request, which frees its KV blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/openai_format.h"
#include "server/parse_request.h"
#include "server/reply_text.h"
#include "server/served_model.h"
#include "server/tool_calls.h"

namespace wedlm::server {

class CompletionRun {
 public:
  using Clock = std::chrono::steady_clock;
  // `abort` (may be null) cancels the request when it becomes true.
  CompletionRun(const ServedModel& m, const ApiRequest& r, ReplyHeader h,
                std::shared_ptr<RequestHandle> handle, Clock::time_point deadline,
                const std::atomic<bool>* abort);

  // Streaming: each SSE event goes to `write`; false from it (client gone) cancels.
  void stream(const std::function<bool(const std::string&)>& write);
  // Non-streaming: the whole reply.
  ojson collect();

  const RequestEvent& end() const { return end_; }  // the finish event (after either call)
  const std::string& text() const { return text_.sent(); }
  bool client_gone() const { return client_gone_; }

 private:
  std::optional<RequestEvent> next();  // the next event, cancelling on deadline or abort
  ojson logprobs_of(const RequestEvent& e, size_t offset) const;

  const ServedModel& m_;
  const ApiRequest& r_;
  ReplyHeader h_;
  std::shared_ptr<RequestHandle> handle_;
  Clock::time_point deadline_;
  const std::atomic<bool>* abort_;
  ReplyText text_;
  RequestEvent end_;
  bool client_gone_ = false;
};

}  // namespace wedlm::server
