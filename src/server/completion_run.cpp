#include "server/completion_run.h"

namespace wedlm::server {
namespace {

// Calls a grammar enforces (tool_choice required or named, or auto once the call token is drawn)
// stream as they are decoded.
bool streams_calls(const ApiRequest& r) {
  return r.calls_enforced ||
         (r.tools && r.engine.params.constraint && r.engine.params.trigger_id >= 0);
}

// What the stream holds back: stop strings, and with tools offered but not enforced, everything
// from a tool call on (it is sent as tool_calls at the end, or as text if it is not a well-formed
// call).
std::vector<std::string> held_back(const ApiRequest& r) {
  std::vector<std::string> h = r.engine.params.stop_strings;
  if (r.tools && !streams_calls(r)) h.push_back(kToolCallOpen);
  return h;
}

bool has_entries(const ojson& lp) {
  if (lp.is_null()) return false;
  const ojson& list = lp.contains("content") ? lp["content"] : lp["tokens"];
  return !list.empty();
}

}  // namespace

CompletionRun::CompletionRun(const ServedModel& m, const ApiRequest& r, ReplyHeader h,
                             std::shared_ptr<RequestHandle> handle, Clock::time_point deadline,
                             const std::atomic<bool>* abort)
    : m_(m),
      r_(r),
      h_(std::move(h)),
      handle_(std::move(handle)),
      deadline_(deadline),
      abort_(abort),
      text_(*m.tok, held_back(r)),
      streams_calls_(streams_calls(r)),
      calls_started_(r.calls_enforced) {}

bool CompletionRun::send_raw(const std::string& bytes) {
  if (!client_gone_ && !write_(bytes)) client_gone_ = true, handle_->cancel();
  last_write_ = Clock::now();
  return !client_gone_;
}

std::optional<RequestEvent> CompletionRun::next() {
  while (true) {  // checked between events too: a busy request must still stop
    const auto now = Clock::now();
    if (now > deadline_ || (abort_ && abort_->load())) handle_->cancel();
    if (now - last_write_ > std::chrono::milliseconds(500)) send_raw(heartbeat_);
    if (auto e = handle_->next_for(std::chrono::milliseconds(50))) return e;
  }
}

ojson CompletionRun::logprobs_of(const RequestEvent& e) {
  if (!r_.logprobs) return nullptr;
  if (r_.chat) return chat_logprobs(*m_.tok, e.tokens, e.logprobs, m_.facts.stop_ids);
  ojson lp = completion_logprobs(*m_.tok, e.tokens, e.logprobs, m_.facts.stop_ids, logprob_offset_);
  for (const ojson& t : lp["tokens"]) logprob_offset_ += t.get<std::string>().size();
  return lp;
}

void CompletionRun::send(ojson c) {
  if (r_.include_usage) c["usage"] = nullptr;
  send_raw(sse(c));
}

void CompletionRun::stream(const Write& write) {
  write_ = write;
  heartbeat_ = ": keep-alive\n\n";
  if (r_.chat) send(chunk(h_, "", true, "", nullptr));  // the role, as OpenAI's first chunk
  while (auto e = next()) {
    if (e->kind == RequestEvent::Kind::kFinished) {
      end_ = std::move(*e);
      break;
    }
    const std::string delta = text_.push(e->tokens);
    const ojson lp = logprobs_of(*e);
    if (streams_calls_) {
      stream_calls(delta, lp);
      continue;
    }
    if (delta.empty() && !has_entries(lp)) continue;
    send(chunk(h_, delta, false, "", lp));
  }
  const std::string rest = text_.finish(end_.text_end);
  if (streams_calls_) return end_calls(rest);
  const ParsedReply p = r_.tools ? parse_tool_calls(text_.sent()) : ParsedReply{};
  if (p.calls.empty()) {
    send(chunk(h_, rest, false, finish_reason_of(end_.finish_reason), nullptr));
  } else {  // the content before the calls that was held back, the calls, the finish
    const size_t sent_before = text_.sent().size() - rest.size();
    if (p.content.size() > sent_before)
      send(chunk(h_, p.content.substr(sent_before), false, "", nullptr));
    send(tool_calls_chunk(h_, p.calls));
    send(chunk(h_, "", false, "tool_calls", nullptr));
  }
}

// Text up to "<tool_call>" goes out as content (a possible start of it waits); from there on the
// calls stream as tool-call deltas.
void CompletionRun::stream_calls(const std::string& delta, const ojson& lp) {
  std::string content, calls;
  if (calls_started_) {
    calls = delta;
  } else {
    pending_ += delta;
    const std::string_view open = kToolCallOpen;
    if (const size_t at = pending_.find(open); at != std::string::npos) {
      content = pending_.substr(0, at), calls = pending_.substr(at);
      calls_started_ = true;
      pending_.clear();
    } else {
      size_t keep = std::min(pending_.size(), open.size() - 1);
      while (keep > 0 &&
             open.substr(0, keep) != std::string_view(pending_).substr(pending_.size() - keep))
        --keep;
      content = pending_.substr(0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
    }
  }
  if (!content.empty() || has_entries(lp)) send(chunk(h_, content, false, "", lp));
  calls_text_ += calls;
  for (const ToolCallDelta& d : calls_.push(calls)) send(tool_call_delta_chunk(h_, d));
}

// Whole calls end as "tool_calls"; a call cut by max_tokens as "length"; text that turned out
// not to be calls (unenforced) goes out as content, so nothing is dropped.
void CompletionRun::end_calls(const std::string& rest) {
  stream_calls(rest, nullptr);
  const std::string reason = finish_reason_of(end_.finish_reason);
  if (!calls_started_) return send(chunk(h_, pending_, false, reason, nullptr));
  if (!calls_.ok()) return send(chunk(h_, calls_text_, false, reason, nullptr));
  const bool whole = !parse_tool_calls(calls_text_).calls.empty() && end_.finish_reason == "stop";
  send(chunk(h_, "", false, whole ? "tool_calls" : reason, nullptr));
}

std::string stream_end(const ApiRequest& r, const ReplyHeader& h, const RequestCounters& c) {
  return (r.include_usage ? sse(usage_chunk(h, c)) : std::string()) + "data: [DONE]\n\n";
}

ojson CompletionRun::collect(const Write& write) {
  write_ = write;
  heartbeat_ = " ";
  RequestEvent all;
  while (auto e = next()) {
    if (e->kind == RequestEvent::Kind::kFinished) {
      end_ = std::move(*e);
      break;
    }
    text_.push(e->tokens);
    all.tokens.insert(all.tokens.end(), e->tokens.begin(), e->tokens.end());
    all.logprobs.insert(all.logprobs.end(), e->logprobs.begin(), e->logprobs.end());
  }
  text_.finish(end_.text_end);
  const std::string reason = finish_reason_of(end_.finish_reason);
  if (r_.tools)
    if (ParsedReply p = parse_tool_calls(text_.sent()); !p.calls.empty())
      return full_reply(h_, p.content, reason, logprobs_of(all), end_.counters, p.calls);
  return full_reply(h_, text_.sent(), reason, logprobs_of(all), end_.counters);
}

}  // namespace wedlm::server
