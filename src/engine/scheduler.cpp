#include "engine/scheduler.h"

#include <algorithm>

namespace wedlm {

Scheduler::Scheduler(const SchedulerConfig& cfg, BlockManager& blocks)
    : cfg_(cfg), blocks_(blocks) {
  WEDLM_CHECK(cfg.max_running >= 1 && cfg.prefill_chunk >= 1, "scheduler limits must be >= 1");
}

void Scheduler::enqueue(Sequence* s) { waiting_.push_back(s); }

std::vector<Work> Scheduler::schedule() {
  std::vector<Work> work;
  const int64_t preempted_before = preemptions_;
  for (size_t i = 0; i < running_.size(); ++i) {  // 1. decode steps, oldest first
    Sequence* s = running_[i];
    const int64_t target = s->decoder.n_kv_needed();
    if (s->n_kv < target) continue;
    if (reserve(s, target + s->decoder.next_step_rows(), work))
      work.push_back({s, target, target, true});
    else
      preempt(s, work);  // it is the newest left: nothing after it runs
  }
  int64_t budget = cfg_.prefill_chunk;
  for (size_t i = 0; i < running_.size() && budget > 0; ++i)  // 2. prefill chunks, oldest first
    if (running_[i]->n_kv < running_[i]->decoder.n_kv_needed())
      add_prefill(running_[i], budget, work);
  if (preemptions_ > preempted_before) return work;  // short of memory: admit nobody
  while (!waiting_.empty() && budget > 0 && n_running() < cfg_.max_running) {  // 3. admission
    if (!admit(waiting_.front(), budget, work)) break;
    waiting_.pop_front();
  }
  return work;
}

// Grows s's blocks to its headroom (len + its largest step), or at least to `need`, preempting
// newer sequences while it must. False when s itself is the newest and still short.
bool Scheduler::reserve(Sequence* s, int64_t need, std::vector<Work>& work) {
  const SequenceDecoder& d = s->decoder;
  const int64_t headroom = std::min(d.context(), d.n_kv_needed() + d.max_step_rows());
  if (blocks_.grow(s->table, std::max(need, headroom))) return true;
  while (!blocks_.grow(s->table, need)) {
    Sequence* victim = running_.back();
    if (victim == s) return false;
    preempt(victim, work);
  }
  return true;
}

void Scheduler::preempt(Sequence* s, std::vector<Work>& work) {
  std::erase_if(work, [s](const Work& w) { return w.seq == s; });
  std::erase(running_, s);
  blocks_.release(s->table);
  s->n_kv = 0;
  ++s->counters.preemptions;
  ++preemptions_;
  waiting_.push_front(s);
}

void Scheduler::add_prefill(Sequence* s, int64_t& budget, std::vector<Work>& work) {
  const int64_t target = s->decoder.n_kv_needed();
  const int64_t end = s->n_kv + std::min(target - s->n_kv, budget);
  const bool step = end == target;
  if (!reserve(s, end + (step ? s->decoder.next_step_rows() : 0), work)) {
    preempt(s, work);
    return;
  }
  work.push_back({s, s->n_kv, end, step});
  s->counters.prefill_tokens += end - s->n_kv;
  budget -= end - s->n_kv;
}

// Starts s from its longest cached prefix; false (and s untouched) when its first chunk does
// not fit the free blocks.
bool Scheduler::admit(Sequence* s, int64_t& budget, std::vector<Work>& work) {
  const int64_t target = s->decoder.n_kv_needed();
  const int64_t cached = blocks_.acquire_prefix(s->decoder.tokens(), target, s->table);
  const int64_t end = cached + std::min(target - cached, budget);
  const bool step = end == target;
  if (!blocks_.grow(s->table, end + (step ? s->decoder.next_step_rows() : 0))) {
    blocks_.release(s->table);
    return false;
  }
  if (!s->admitted_once) s->counters.cached_tokens = cached;
  s->admitted_once = true;
  s->n_kv = cached;
  running_.insert(
      std::upper_bound(running_.begin(), running_.end(), s,
                       [](const Sequence* a, const Sequence* b) { return a->id < b->id; }),
      s);
  work.push_back({s, cached, end, step});
  s->counters.prefill_tokens += end - cached;
  budget -= end - cached;
  return true;
}

void Scheduler::completed(const Work& w) {
  Sequence* s = w.seq;
  s->n_kv = w.step ? s->decoder.n_kv_needed() : w.prefill_end;
  blocks_.register_full_blocks(s->table, s->decoder.tokens().first(size_t(s->n_kv)));
}

void Scheduler::remove(Sequence* s) {
  std::erase(running_, s);
  std::erase(waiting_, s);
  blocks_.release(s->table);
}

}  // namespace wedlm
