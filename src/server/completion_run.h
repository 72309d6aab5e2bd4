// One completion request from submission to its last byte: streams the engine's events as SSE
// chunks (text held back at possible stop strings, log-probabilities with their tokens, the usage
// chunk, "data: [DONE]") or collects them into one reply; a request of n choices runs one each,
// in turn (the engine decodes them together). With tools offered, tool calls in the
// reply become OpenAI tool_calls: streamed as they are decoded when a grammar enforces them
// (required, named, or auto once the call token is drawn), else held back to the end. A client that goes away, the request
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
#include "server/tool_call_stream.h"
#include "server/tool_calls.h"

namespace wedlm::server {

class CompletionRun {
 public:
  using Clock = std::chrono::steady_clock;
  using Write = std::function<bool(const std::string&)>;  // false: the client is gone
  // `abort` (may be null) cancels the request when it becomes true.
  CompletionRun(const ServedModel& m, const ApiRequest& r, ReplyHeader h,
                std::shared_ptr<RequestHandle> handle, Clock::time_point deadline,
                const std::atomic<bool>* abort);

  // Streaming: each SSE event of this choice goes to `write` (role, deltas, finish), with an SSE
  // comment after half a second of silence; stream_end() follows the last choice.
  void stream(const Write& write);
  // Non-streaming: the whole reply. While it is computed, half a second of silence writes a space
  // to `write` (JSON may begin with whitespace), so a client that left is noticed and cancels.
  ojson collect(const Write& write);

  const RequestEvent& end() const { return end_; }  // the finish event (after either call)
  int index() const { return h_.index; }            // the choice
  void cancel() { handle_->cancel(); }
  const std::string& text() const { return text_.sent(); }
  bool client_gone() const { return client_gone_; }

 private:
  std::optional<RequestEvent> next();  // the next event, cancelling on deadline, abort, gone
  bool send_raw(const std::string& bytes);
  ojson logprobs_of(const RequestEvent& e);

  const ServedModel& m_;
  const ApiRequest& r_;
  ReplyHeader h_;
  std::shared_ptr<RequestHandle> handle_;
  Clock::time_point deadline_;
  const std::atomic<bool>* abort_;
  ReplyText text_;
  RequestEvent end_;
  Write write_;
  std::string heartbeat_;
  Clock::time_point last_write_ = Clock::now();
  size_t logprob_offset_ = 0;  // completions: where the next token's text starts
  void send(ojson chunk);      // an SSE event (with the usage field when asked)
  void stream_calls(const std::string& delta, const ojson& lp);
  void end_calls(const std::string& rest);
  bool streams_calls_;      // enforced tool calls, streamed as they are decoded
  bool calls_started_;      // ... and they have begun (text before them was content)
  std::string pending_;     // text that may begin "<tool_call>"
  std::string calls_text_;  // the text of the calls
  ToolCallStream calls_;
  bool client_gone_ = false;
};

// What ends a stream: the usage chunk (with stream_options.include_usage) and "data: [DONE]".
std::string stream_end(const ApiRequest& r, const ReplyHeader& h, const RequestCounters& c);

}  // namespace wedlm::server
