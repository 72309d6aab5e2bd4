#include "engine/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/core.h>

#include "ops/ops.h"

namespace wedlm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

int64_t pool_blocks(const ModelConfig& m, const EngineConfig& c) {
  WEDLM_CHECK(c.block_size >= 1 && c.block_size <= 4096, "block size must be in [1, 4096]");
  const int64_t tokens = c.kv_tokens > 0 ? c.kv_tokens : 4 * m.max_position_embeddings;
  return std::max<int64_t>(1, (tokens + c.block_size - 1) / c.block_size);
}

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

// ---- Engine ----

Engine::Engine(std::unique_ptr<Forward> forward, const EngineConfig& cfg)
    : forward_(std::move(forward)), cfg_(cfg), kv_blocks_(forward_->n_blocks()),
      blocks_(kv_blocks_, cfg.block_size), scheduler_(cfg.scheduler, blocks_) {
  WEDLM_CHECK(forward_->block_size() == cfg.block_size, "the forward's KV blocks are another size");
  loop_ = std::thread([this, threads = cpu_threads()] {
    set_cpu_threads(threads);  // the creator's -t, not the process default
    loop();
  });
}

Engine::Engine(Model& model, const EngineConfig& cfg)
    : Engine(std::make_unique<CpuForward>(model, pool_blocks(model.config(), cfg), cfg.block_size),
             cfg) {}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  loop_.join();
}

Status Engine::check(const Request& r) const {
  const int64_t V = forward_->config().vocab_size;
  WEDLM_RETURN_IF_ERROR(validate(r.params, r.prompt, V));
  const SequenceDecoder d(r.prompt, r.params);
  if (Scheduler::peak_slots(d) > kv_tokens())
    return bad(fmt::format("the request needs {} KV slots (prompt {} + max_tokens {} + window "
                           "headroom, within the context {}) but the KV pool holds {}",
                           Scheduler::peak_slots(d), r.prompt.size(), r.params.max_tokens,
                           r.params.context, kv_tokens()));
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
  Entry e{std::make_unique<Sequence>(id, r.prompt, std::move(r.params)),
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
    cv_.wait_for(lock, std::chrono::milliseconds(2), [this] { return stop_ || !incoming_.empty(); });
  else
    cv_.wait(lock, [this] { return stop_ || !incoming_.empty() || !entries_.empty(); });
  if (stop_) return false;
  for (Entry& e : incoming_) {
    scheduler_.enqueue(e.seq.get());
    const uint64_t id = e.seq->id;
    entries_.emplace(id, std::move(e));
  }
  incoming_.clear();
  stats_.waiting = scheduler_.n_waiting();
  return true;
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

// One forward over every scheduled sequence's rows, then each sequence's logits applied.
void Engine::run_step(std::vector<Work>& work) {
  const auto t0 = Clock::now();
  build_batch(work, t0);
  if (!batch_.ids.empty()) {
    if (by_picks_) forward_->forward_picks(batch_, draws_, picks_);
    else forward_->forward(batch_, logits_);
  }
  apply_step(work, ms_between(t0, Clock::now()));
}

// Per sequence: its prefill chunk, then its step rows (plan() may find no slot left: the
// sequence is then finished with "length" and runs its prefill rows only).
void Engine::build_batch(std::vector<Work>& work, Clock::time_point t0) {
  batch_.clear();
  StepRows step, rows;
  n_logit_rows_.assign(work.size(), 0);
  // picks when the forward makes them cheaper and no stepping sequence wants logprobs
  by_picks_ = forward_->picks_are_cheaper();
  draws_.clear();
  for (const Work& w : work)
    if (w.step) by_picks_ = by_picks_ && w.seq->decoder.takes_picks();
  for (size_t i = 0; i < work.size(); ++i) {
    Work& w = work[i];
    Sequence& s = *w.seq;
    if (!s.counters.queue_ms) s.counters.queue_ms = ms_between(s.submitted, t0);
    if (w.step && !s.decoder.plan(step)) w.step = false;
    if (w.step && by_picks_) s.decoder.row_draws(draws_);
    segment_rows(s.decoder.tokens(), w.prefill_begin, w.prefill_end, w.step ? &step : nullptr,
                 rows);
    n_logit_rows_[i] = rows.logit_rows.size();
    if (!rows.ids.empty())
      batch_.add(rows.ids, rows.pos, w.prefill_begin, s.table.blocks, rows.logit_rows);
  }
}

// Applies each sequence's logits, streams its commits, records its K/V, finishes it if done.
void Engine::apply_step(const std::vector<Work>& work, double forward_ms) {
  const int64_t V = forward_->config().vocab_size;
  const auto now = Clock::now();
  const float* at = logits_.data();
  size_t pick = 0;
  int64_t committed = 0;
  std::vector<uint64_t> done;
  for (size_t i = 0; i < work.size(); ++i) {
    const Work& w = work[i];
    Sequence& s = *w.seq;
    Entry& e = entries_.at(s.id);
    if (w.prefill_end > w.prefill_begin) s.counters.prefill_ms += forward_ms;
    int64_t n = 0;
    if (w.step && by_picks_)
      n = s.decoder.apply(std::span<const RowPick>(picks_).subspan(pick, n_logit_rows_[i]));
    else if (w.step)
      n = s.decoder.apply(at, V);
    at += by_picks_ ? 0 : n_logit_rows_[i] * size_t(V);
    pick += n_logit_rows_[i];
    if (n > 0) {
      if (!s.counters.first_token_ms) s.counters.first_token_ms = ms_between(s.submitted, now);
      const GenerateResult& r = s.decoder.result();
      RequestEvent ev{RequestEvent::Kind::kTokens, {r.output.end() - n, r.output.end()},
                      r.forwards, {}, "", std::nullopt, {}};
      if (!r.logprobs.empty()) ev.logprobs.assign(r.logprobs.end() - n, r.logprobs.end());
      e.handle->push(std::move(ev));
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
  e.handle->push(std::move(ev));
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.requests_finished;
}

Result<int64_t> parse_kv_tokens(const std::string& text, int64_t bytes_per_token) {
  static const std::pair<const char*, double> kUnits[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6},
      {"GB", 1e9},     {"B", 1.0}};
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, value);
  const std::string unit(rest, end);
  const auto fail = [&] {
    return bad(fmt::format("KV size '{}' is not a token count (8192) or a size with a unit "
                           "(512MiB, 2GiB, 1.5GB)", text));
  };
  if (ec != std::errc() || !(value > 0) || !std::isfinite(value)) return fail();
  if (unit.empty()) {
    if (value != std::floor(value)) return fail();
    return int64_t(value);
  }
  for (const auto& [name, scale] : kUnits)
    if (unit == name) {
      const int64_t tokens = int64_t(value * scale / double(bytes_per_token));
      if (tokens < 1)
        return bad(fmt::format("KV size '{}' holds no token: one takes {} bytes", text,
                               bytes_per_token));
      return tokens;
    }
  return fail();
}

}  // namespace wedlm
