#include "engine/engine.h"

#include <algorithm>

#include <fmt/core.h>

namespace wedlm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The event of the last n tokens a decoder committed, with their log-probabilities.
RequestEvent tokens_event(const GenerateResult& r, int64_t n) {
  RequestEvent ev{RequestEvent::Kind::kTokens,
                  {r.output.end() - n, r.output.end()},
                  r.forwards,
                  {},
                  "",
                  std::nullopt,
                  {}};
  if (!r.logprobs.empty()) ev.logprobs.assign(r.logprobs.end() - n, r.logprobs.end());
  return ev;
}

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

}  // namespace

// ---- RequestHandle ----

void RequestHandle::push(RequestEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (e.kind == RequestEvent::Kind::kFinished) finished_ = true;
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

std::optional<RequestEvent> RequestHandle::pop_locked() {
  if (events_.empty()) return std::nullopt;
  RequestEvent e = std::move(events_.front());
  events_.pop_front();
  if (e.kind == RequestEvent::Kind::kFinished) delivered_end_ = true;
  return e;
}

std::optional<RequestEvent> RequestHandle::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !events_.empty() || delivered_end_; });
  return pop_locked();
}

std::optional<RequestEvent> RequestHandle::next_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !events_.empty() || delivered_end_; });
  return pop_locked();
}

bool RequestHandle::wait_for_event(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return !events_.empty() || delivered_end_; });
}

// ---- Engine ----

Engine::Engine(std::unique_ptr<Forward> forward, ModelFacts m, const EngineConfig& cfg)
    : Engine(*forward, std::move(m), cfg) {
  owned_ = std::move(forward);  // the same object: the loop thread holds it as forward_
}

Engine::Engine(Forward& forward, ModelFacts m, const EngineConfig& cfg)
    : forward_(forward),
      facts_(std::move(m)),
      cfg_(cfg),
      blocks_(forward_.n_blocks(), forward_.block_size()),
      scheduler_(cfg.scheduler, blocks_) {
  WEDLM_CHECK(facts_.vocab_size == forward_.config().vocab_size, "model facts of another model");
  loop_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  loop_.join();
}

Status Engine::check(const Request& r) const {
  WEDLM_RETURN_IF_ERROR(validate(r.params, r.prompt, facts_));
  const SequenceDecoder d(r.prompt, r.params, facts_);
  if (d.peak_slots() > kv_tokens())
    return bad(fmt::format(
        "the request needs {} KV slots (prompt {} + max_tokens {} + window "
        "headroom, within the context {}) but the KV pool holds {}",
        d.peak_slots(), r.prompt.size(), r.params.max_tokens, facts_.context, kv_tokens()));
  return Status::ok();
}

Result<std::shared_ptr<RequestHandle>> Engine::submit(Request r) {
  WEDLM_RETURN_IF_ERROR(check(r));
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t queued = stats_.waiting + int64_t(incoming_.size());
  if (queued >= cfg_.scheduler.max_waiting)
    return Status(ErrorKind::kOverloaded,
                  fmt::format("{} requests are already waiting (the limit is {}); retry later",
                              queued, cfg_.scheduler.max_waiting));
  const uint64_t id = next_id_++;
  Entry e{std::make_unique<Sequence>(id, r.prompt, std::move(r.params), facts_),
          std::make_shared<RequestHandle>(id)};
  std::shared_ptr<RequestHandle> handle = e.handle;
  incoming_.push_back(std::move(e));
  cv_.notify_all();
  return handle;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::loop() {
  bool idle = false;
  while (take_incoming(idle)) {
    drop_cancelled();
    std::vector<Work> work = scheduler_.schedule();
    idle = work.empty();
    if (!idle) run_step(work);
    publish_stats();
  }
  for (auto& [id, e] : entries_) {  // stopping
    scheduler_.remove(e.seq.get());
    finish(e, "cancelled");
  }
  entries_.clear();
}

void Engine::publish_stats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.running = scheduler_.n_running();
  stats_.waiting = scheduler_.n_waiting();
  stats_.kv_blocks = blocks_.n_blocks();
  stats_.kv_blocks_free = blocks_.n_available();
  stats_.kv_blocks_cached = blocks_.n_cached();
  stats_.block_size = blocks_.block_size();
  stats_.preemptions = scheduler_.preemptions();
  stats_.prefix_queries = blocks_.stats().prefix_queries;
  stats_.prefix_hit_blocks = blocks_.stats().prefix_hit_blocks;
  stats_.evictions = blocks_.stats().evictions;
}

// Moves submitted requests into the scheduler; sleeps while there is nothing to do.
bool Engine::take_incoming(bool idle) {
  std::unique_lock<std::mutex> lock(mu_);
  if (idle)  // requests that cannot run yet: look again soon (cancellations, memory)
    cv_.wait_for(lock, std::chrono::milliseconds(2),
                 [this] { return stop_ || !incoming_.empty(); });
  else
    cv_.wait(lock, [this] { return stop_ || !incoming_.empty() || !entries_.empty(); });
  for (Entry& e : incoming_) {  // also when stopping: loop() then finishes them as cancelled
    scheduler_.enqueue(e.seq.get());
    const uint64_t id = e.seq->id;
    entries_.emplace(id, std::move(e));
  }
  incoming_.clear();
  stats_.waiting = scheduler_.n_waiting();
  return !stop_;
}

void Engine::drop_cancelled() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.handle->cancelled() || e.handle.use_count() == 1) {  // asked, or nobody listens
      scheduler_.remove(e.seq.get());
      finish(e, "cancelled");
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

RequestCounters Engine::counters_of(const Entry& e) const {
  const Sequence& s = *e.seq;
  RequestCounters c;
  c.prompt_tokens = s.counters.prompt_tokens;
  c.cached_tokens = s.counters.cached_tokens;
  c.completion_tokens = int64_t(s.decoder.result().output.size());
  c.forwards = s.decoder.result().forwards;
  c.prefill_tokens = s.counters.prefill_tokens;
  c.preemptions = s.counters.preemptions;
  c.prefill_ms = s.counters.prefill_ms;
  c.queue_ms = s.counters.queue_ms.value_or(0);
  c.first_token_ms = s.counters.first_token_ms.value_or(0);
  c.total_ms = ms_between(s.submitted, Clock::now());
  return c;
}

// One forward over every scheduled sequence's rows, then each sequence's answers applied.
void Engine::run_step(std::vector<Work>& work) {
  const auto t0 = Clock::now();
  build_batch(work, t0);
  step_.run(forward_);
  apply_step(work, ms_between(t0, Clock::now()));
}

// Per sequence: its prefill chunk, then its step rows (plan() may find no slot left: the
// sequence is then finished with "length" and runs its prefill rows only).
void Engine::build_batch(std::vector<Work>& work, Clock::time_point t0) {
  step_.clear();
  for (Work& w : work) {
    Sequence& s = *w.seq;
    if (!s.counters.queue_ms) s.counters.queue_ms = ms_between(s.submitted, t0);
    w.step = step_.add(s.decoder, w.prefill_begin, w.prefill_end, s.table.blocks, w.step);
  }
}

// Applies each sequence's answers, streams its commits, records its K/V, finishes it if done.
void Engine::apply_step(const std::vector<Work>& work, double forward_ms) {
  const auto now = Clock::now();
  int64_t committed = 0;
  std::vector<uint64_t> done;
  for (size_t i = 0; i < work.size(); ++i) {
    const Work& w = work[i];
    Sequence& s = *w.seq;
    Entry& e = entries_.at(s.id);
    if (w.prefill_end > w.prefill_begin) s.counters.prefill_ms += forward_ms;
    const int64_t n = step_.apply(i, s.decoder);
    if (n > 0) {
      if (!s.counters.first_token_ms) s.counters.first_token_ms = ms_between(s.submitted, now);
      e.handle->push(tokens_event(s.decoder.result(), n));
      committed += n;
    }
    scheduler_.completed(w);
    if (s.decoder.finished()) {
      scheduler_.remove(&s);
      finish(e, s.decoder.result().finish_reason);
      done.push_back(s.id);
    }
  }
  for (uint64_t id : done) entries_.erase(id);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.steps;
  stats_.tokens_committed += committed;
}

void Engine::finish(Entry& e, const std::string& reason) {
  RequestEvent ev;
  ev.kind = RequestEvent::Kind::kFinished;
  ev.finish_reason = reason;
  ev.text_end = e.seq->decoder.result().text_end;
  ev.counters = counters_of(e);
  // stats() shows the request gone (its sequence is out of the scheduler, its blocks freed)
  // before its client can see the end and ask
  publish_stats();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.requests_finished;
  }
  e.handle->push(std::move(ev));
}

}  // namespace wedlm
