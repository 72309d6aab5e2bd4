// Continuous batching: which sequences run in the next forward, and how many rows each.
//
// Each step, in this order:
//  1. Every running sequence whose prefill is done runs its decode step (a WeDLM window, an AR
//     row). Its blocks grow to len + 2W (the window peaks at W + n <= 2W; AR: len + 1) when
//     they can, else to what the step needs.
//  2. Running sequences still prefilling get chunks of their uncomputed tokens, oldest first,
//     from a budget of `prefill_chunk` rows per step; the chunk that completes a prefill carries
//     the sequence's first decode step in the same rows. Decode rows are not charged to this
//     budget, so a long prompt never stalls the others and the others never starve it.
//  3. Waiting sequences are admitted first come first served while budget, memory and
//     `max_running` allow; admission starts from the longest cached prefix (prefix caching) and
//     never preempts.
// When a running sequence cannot get the blocks it needs, the newest running sequence is
// preempted (LIFO): its blocks are released, its K/V forgotten, and it goes back to the front of
// the queue with its decoder intact, to be re-prefilled (usually from the prefix cache) and to go
// on exactly where it was. The oldest running sequence can always preempt every other one, so
// progress is guaranteed as long as one sequence fits the pool alone (the engine checks that at
// submission).
// Not thread-safe: the engine loop owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/block_manager.h"
#include "engine/sequence.h"

namespace wedlm {

struct SchedulerConfig {
  int64_t max_running = 32;     // sequences in one forward
  int64_t max_waiting = 1024;   // queued requests beyond which submission reports "overloaded"
  int64_t prefill_chunk = 256;  // prefill rows per step, over all sequences
};

// One sequence's share of a step: tokens()[prefill_begin, prefill_end) go in as prefill rows,
// then, when `step`, its decode step's rows (whose logits come back).
struct Work {
  Sequence* seq = nullptr;
  int64_t prefill_begin = 0, prefill_end = 0;
  bool step = false;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& cfg, BlockManager& blocks);

  const SchedulerConfig& config() const { return cfg_; }
  int64_t n_running() const { return int64_t(running_.size()); }
  int64_t n_waiting() const { return int64_t(waiting_.size()); }
  int64_t preemptions() const { return preemptions_; }

  void enqueue(Sequence* s);  // at the back of the queue
  std::vector<Work> schedule();
  // After the forward that ran `w` (and apply() of its logits): records the K/V now computed
  // and registers the full blocks of committed tokens in the prefix cache.
  void completed(const Work& w);
  // Takes a sequence out (finished or cancelled), releasing its blocks. Waiting ones too.
  void remove(Sequence* s);

 private:
  bool reserve(Sequence* s, int64_t need, std::vector<Work>& work);
  void preempt(Sequence* s, std::vector<Work>& work);
  bool admit(Sequence* s, int64_t& budget, std::vector<Work>& work);
  void add_prefill(Sequence* s, int64_t& budget, std::vector<Work>& work);

  SchedulerConfig cfg_;
  BlockManager& blocks_;
  std::vector<Sequence*> running_;  // in admission order: oldest first
  std::deque<Sequence*> waiting_;
  int64_t preemptions_ = 0;
};

}  // namespace wedlm
