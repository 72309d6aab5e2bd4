// The serving engine: many requests decoded together by one model, continuous batching over a
// paged KV pool with prefix caching (wedlm-spec.md §4-5, without the reference engine's bugs).
//
// One loop thread owns the model, the KV pool, the block manager and the scheduler, and repeats:
// take new and cancelled requests; schedule (scheduler.h); one batched forward carrying every
// scheduled prefill chunk and decode step; apply each sequence's logits; stream what was committed.
// Callers submit from any thread and get a RequestHandle that streams that request's events.
//
// Batch invariance (CPU backend): every row's numbers are independent of the rest of the batch
// (model.h), and each request draws from its own seeded RNG, so a request gives the same tokens
// alone or among others, in any arrival order, preempted or not.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "decode/generate_params.h"
#include "decode/step_batch.h"
#include "engine/block_manager.h"
#include "engine/scheduler.h"
#include "model/forward.h"

namespace wedlm {

// The engine's settings (the KV pool's size and block size are the Forward's).
struct EngineConfig {
  SchedulerConfig scheduler;
};

struct Request {
  std::vector<int32_t> prompt;
  GenerateParams params;  // mode, limits, WeDLM and sampling parameters, seed
};

// What a request reports when it ends.
struct RequestCounters {
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t completion_tokens = 0;
  int64_t forwards = 0;        // decode steps it took part in
  int64_t prefill_tokens = 0;  // rows computed by prefill (recomputation after preemption too)
  int64_t preemptions = 0;
  double queue_ms = 0;        // submission to first admission
  double first_token_ms = 0;  // submission to the first committed token
  double prefill_ms = 0;      // wall time of the forwards that carried its prefill rows
  double total_ms = 0;
};

struct RequestEvent {
  enum class Kind { kTokens, kFinished };
  Kind kind = Kind::kTokens;
  std::vector<int32_t> tokens;         // kTokens: newly committed, in order
  int64_t step = 0;                    // kTokens: the request's decode step that committed them
  std::vector<TokenLogprob> logprobs;  // kTokens with params.logprobs >= 0: one per token
  std::string finish_reason;           // kFinished: "stop" | "length" | "cancelled"
  std::optional<size_t> text_end;      // kFinished by a stop string: the reply text ends here
  RequestCounters counters;            // kFinished
};

// A submitted request's end of the stream. Thread-safe: the engine loop pushes, any thread
// reads and cancels. Dropping the last handle cancels the request.
class RequestHandle {
 public:
  explicit RequestHandle(uint64_t id) : id_(id) {}
  uint64_t id() const { return id_; }
  // Blocks until the next event. After the kFinished event, returns nullopt.
  std::optional<RequestEvent> next();
  // As next(), but returns nullopt also when nothing came within `timeout`.
  std::optional<RequestEvent> next_for(std::chrono::milliseconds timeout);
  // Waits until an event is there to read (not reading it); false after `timeout`. A request's
  // first event comes after its prefill, once its prompt's full blocks are in the prefix cache.
  bool wait_for_event(std::chrono::milliseconds timeout);
  // Asks the engine to stop the request; it then finishes with "cancelled" (unless it finished).
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  friend class Engine;
  void push(RequestEvent e);
  std::optional<RequestEvent> pop_locked();  // with mu_ held

  uint64_t id_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  bool finished_ = false;       // the kFinished event was pushed
  bool delivered_end_ = false;  // ... and read
};

struct EngineStats {
  int64_t running = 0, waiting = 0;
  int64_t kv_blocks = 0, kv_blocks_free = 0, kv_blocks_cached = 0, block_size = 0;
  int64_t steps = 0, preemptions = 0, prefix_queries = 0, prefix_hit_blocks = 0, evictions = 0;
  int64_t requests_finished = 0, tokens_committed = 0;
};

class Engine {
 public:
  // Starts the loop thread over `forward`, whose KV pool becomes the engine's, for the model `m`
  // describes (its vocabulary must be the forward's).
  Engine(std::unique_ptr<Forward> forward, ModelFacts m, const EngineConfig& cfg);
  // Borrows `forward` (which must outlive the Engine, and no one else may use it meanwhile):
  // short-lived engines, one per `wedlm bench` case, share one device model and its pool.
  Engine(Forward& forward, ModelFacts m, const EngineConfig& cfg);
  ~Engine();  // cancels what is still running and joins the loop
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates the request (parameters, token ids, fit in the KV pool) and queues it. Errors:
  // kInvalidArgument naming what is wrong; kOverloaded when max_waiting requests are queued.
  Result<std::shared_ptr<RequestHandle>> submit(Request r);
  EngineStats stats() const;
  const EngineConfig& config() const { return cfg_; }
  const ModelFacts& facts() const { return facts_; }
  int64_t kv_tokens() const { return forward_.kv_tokens(); }

 private:
  struct Entry {
    std::unique_ptr<Sequence> seq;
    std::shared_ptr<RequestHandle> handle;
  };
  Status check(const Request& r) const;
  void loop();
  bool take_incoming(bool idle);  // false when stopping
  void drop_cancelled();
  void run_step(std::vector<Work>& work);
  void build_batch(std::vector<Work>& work, std::chrono::steady_clock::time_point t0);
  void apply_step(const std::vector<Work>& work, double forward_ms);
  void publish_stats();
  void finish(Entry& e, const std::string& reason);
  RequestCounters counters_of(const Entry& e) const;

  std::unique_ptr<Forward> owned_;  // null when borrowed
  Forward& forward_;
  const ModelFacts facts_;
  EngineConfig cfg_;
  BlockManager blocks_;
  Scheduler scheduler_;
  std::unordered_map<uint64_t, Entry> entries_;  // loop thread only
  StepBatch step_;                               // this step's rows and their answers

  mutable std::mutex mu_;  // guards incoming_, stop_, next_id_, stats_
  std::condition_variable cv_;
  std::vector<Entry> incoming_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  EngineStats stats_;
  std::thread loop_;
};

}  // namespace wedlm
