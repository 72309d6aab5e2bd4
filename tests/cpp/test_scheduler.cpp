// The continuous-batching scheduler with no weights: real SequenceDecoders fed synthetic logits
// (a confident token that depends on the position), so every rule of scheduler.h is observable:
// chunked prefill budgets, the prefill chunk that carries the first step, headroom, FIFO
// admission and max_running, prefix-cache hits at admission, LIFO preemption that changes no
// output, no starvation, and every block back at the end.
#include <map>
#include <memory>

#include <gtest/gtest.h>

#include "engine/scheduler.h"

namespace wedlm {
namespace {

constexpr int64_t kVocab = 16, kMask = 15, kStop = 14;

const ModelFacts kFacts{kVocab, kMask, 1000, {kStop}, nullptr};

GenerateParams params(DecodeMode mode, int64_t max_tokens, int64_t window = 4) {
  GenerateParams p;
  p.mode = mode;
  p.max_tokens = max_tokens;
  p.window = window;
  p.sampling.temperature = 0;
  return p;
}

std::vector<int32_t> prompt_of(int n, int32_t salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(int32_t(1 + (i * 7 + salt) % 13));
  return t;
}

// Drives a Scheduler the way the engine does, with logits that make position p's token
// 1 + (3p + salt) % 13, confidently (so a WeDLM window fills at once).
class Sim {
 public:
  Sim(int64_t n_blocks, int64_t block_size, SchedulerConfig cfg)
      : blocks(n_blocks, block_size), sched(cfg, blocks) {}

  Sequence* add(std::vector<int32_t> prompt, GenerateParams p) {
    seqs.push_back(std::make_unique<Sequence>(next_id++, prompt, std::move(p), kFacts));
    sched.enqueue(seqs.back().get());
    return seqs.back().get();
  }

  std::vector<Work> step() {
    std::vector<Work> work = sched.schedule();
    for (Work& w : work) {
      Sequence* s = w.seq;
      EXPECT_GE(int64_t(s->table.blocks.size()) * blocks.block_size(),
                w.prefill_end + (w.step ? s->decoder.next_step_rows() : 0))
          << "sequence " << s->id << " runs rows past its blocks";
      StepRows rows;
      if (w.step && s->decoder.plan(rows)) {
        Batch b;  // the step's logit rows only: the decoder takes their picks
        std::vector<RowRequest> requests;
        s->decoder.row_requests(requests);
        b.add(rows.ids, rows.pos, 0, {}, rows.logit_rows, requests);
        StepOutput out;
        for (int32_t r : rows.logit_rows) {
          std::vector<float> row(kVocab, 0.0f);
          row[size_t(1 + (3 * rows.pos[size_t(r)] + int64_t(s->id)) % 13)] = 12.0f;
          out.logits.insert(out.logits.end(), row.begin(), row.end());
        }
        out.pick_from_logits(b, kVocab);
        s->decoder.apply(out, 0, kVocab);
      }
      sched.completed(w);
      if (s->decoder.finished()) sched.remove(s), finished[s->id] = s->decoder.result().output;
    }
    return work;
  }

  void run_all(int max_steps = 10000) {
    for (int i = 0; i < max_steps && finished.size() < seqs.size(); ++i) step();
    ASSERT_EQ(finished.size(), seqs.size()) << "not every sequence finished";
  }

  BlockManager blocks;
  Scheduler sched;
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::map<uint64_t, std::vector<int32_t>> finished;
  uint64_t next_id = 1;
};

const Work* work_of(const std::vector<Work>& w, const Sequence* s) {
  for (const Work& x : w)
    if (x.seq == s) return &x;
  return nullptr;
}

TEST(Scheduler, LongPromptIsPrefilledInChunksWhileOthersKeepDecoding) {
  Sim sim(64, 4, {8, 64, 8});
  Sequence* dec = sim.add(prompt_of(3, 1), params(DecodeMode::kWeDLM, 200));
  sim.step();  // dec: prefill 3 + first window
  Sequence* big = sim.add(prompt_of(30, 2), params(DecodeMode::kWeDLM, 5));
  std::vector<int64_t> chunks;
  for (int i = 0; i < 4; ++i) {
    const auto w = sim.step();
    ASSERT_NE(work_of(w, dec), nullptr) << "the decoding sequence skipped step " << i;
    EXPECT_TRUE(work_of(w, dec)->step);
    const Work* b = work_of(w, big);
    ASSERT_NE(b, nullptr);
    chunks.push_back(b->prefill_end - b->prefill_begin);
    EXPECT_EQ(b->step, i == 3) << "only the last chunk carries the first step";
  }
  EXPECT_EQ(chunks, (std::vector<int64_t>{8, 8, 8, 6}));
}

TEST(Scheduler, BudgetIsSharedOldestFirst) {
  Sim sim(64, 4, {8, 64, 10});
  Sequence* a = sim.add(prompt_of(7, 1), params(DecodeMode::kAR, 3));
  Sequence* b = sim.add(prompt_of(9, 2), params(DecodeMode::kAR, 3));
  const auto w = sim.step();
  ASSERT_NE(work_of(w, a), nullptr);
  ASSERT_NE(work_of(w, b), nullptr);
  EXPECT_EQ(work_of(w, a)->prefill_end, 6);  // AR: all but the last token, which is the step row
  EXPECT_TRUE(work_of(w, a)->step);
  EXPECT_EQ(work_of(w, b)->prefill_end - work_of(w, b)->prefill_begin, 4);  // 10 - 6
  EXPECT_FALSE(work_of(w, b)->step);
}

TEST(Scheduler, DecodingSequencesHoldTwoWindowsOfHeadroom) {
  Sim sim(64, 4, {8, 64, 64});
  Sequence* s = sim.add(prompt_of(10, 1), params(DecodeMode::kWeDLM, 100, 6));
  sim.step();
  for (int i = 0; i < 5; ++i) {  // at each step: blocks for len + 2W, len as scheduled
    const int64_t len = int64_t(s->decoder.tokens().size());
    sim.step();
    EXPECT_GE(int64_t(s->table.blocks.size()) * 4, len + 12);
  }
}

TEST(Scheduler, AdmissionIsFirstComeFirstServedUpToMaxRunning) {
  Sim sim(64, 4, {2, 64, 64});
  Sequence* a = sim.add(prompt_of(5, 1), params(DecodeMode::kAR, 4));
  Sequence* b = sim.add(prompt_of(5, 2), params(DecodeMode::kAR, 8));
  Sequence* c = sim.add(prompt_of(5, 3), params(DecodeMode::kAR, 4));
  auto w = sim.step();
  EXPECT_NE(work_of(w, a), nullptr);
  EXPECT_NE(work_of(w, b), nullptr);
  EXPECT_EQ(work_of(w, c), nullptr);
  EXPECT_EQ(sim.sched.n_waiting(), 1);
  while (!sim.finished.count(a->id)) w = sim.step();
  w = sim.step();
  EXPECT_NE(work_of(w, c), nullptr) << "c is admitted once a leaves";
  sim.run_all();
}

TEST(Scheduler, AdmissionStartsFromTheCachedPrefix) {
  Sim sim(64, 4, {8, 64, 64});
  Sequence* a = sim.add(prompt_of(10, 1), params(DecodeMode::kWeDLM, 9));
  sim.run_all();
  // A second turn: a's prompt and reply, then new tokens.
  std::vector<int32_t> turn2(a->decoder.tokens().begin(), a->decoder.tokens().end());
  for (int32_t t : prompt_of(5, 9)) turn2.push_back(t);
  Sequence* b = sim.add(turn2, params(DecodeMode::kWeDLM, 4));
  const auto w = sim.step();
  const int64_t committed = int64_t(a->decoder.tokens().size());
  ASSERT_NE(work_of(w, b), nullptr);
  EXPECT_EQ(work_of(w, b)->prefill_begin, committed / 4 * 4);
  EXPECT_EQ(b->counters.cached_tokens, committed / 4 * 4);
  EXPECT_EQ(b->counters.prefill_tokens, int64_t(turn2.size()) - committed / 4 * 4);
}

TEST(Scheduler, PreemptionIsLifoAndChangesNoOutput) {
  auto run = [](int64_t n_blocks) {
    Sim sim(n_blocks, 4, {8, 64, 64});
    for (int i = 0; i < 4; ++i)
      sim.add(prompt_of(6 + i, i), params(i % 2 ? DecodeMode::kAR : DecodeMode::kWeDLM, 30));
    sim.run_all();
    EXPECT_EQ(sim.blocks.n_available(), n_blocks) << "blocks leaked";
    return std::make_pair(sim.finished, sim.sched.preemptions());
  };
  const auto [roomy, p0] = run(256);
  const auto [tight, p1] = run(16);  // 64 slots: one sequence needs up to 9 + 30 + 8
  EXPECT_EQ(p0, 0);
  EXPECT_GT(p1, 0) << "the tight pool should have forced preemptions";
  EXPECT_EQ(roomy, tight);
}

TEST(Scheduler, TheNewestIsPreemptedAndResumesFromTheFrontOfTheQueue) {
  Sim sim(12, 4, {8, 64, 64});
  Sequence* old = sim.add(prompt_of(8, 1), params(DecodeMode::kWeDLM, 30));
  Sequence* young = sim.add(prompt_of(8, 2), params(DecodeMode::kWeDLM, 30));
  while (young->counters.preemptions == 0 && !sim.finished.count(young->id)) sim.step();
  EXPECT_EQ(old->counters.preemptions, 0);
  ASSERT_EQ(young->counters.preemptions, 1);
  Sequence* later = sim.add(prompt_of(4, 3), params(DecodeMode::kAR, 2));
  bool resumed =
      false;  // the preempted one is first in the queue: it runs no later than the newcomer
  for (int i = 0; i < 100 && !resumed; ++i) {
    const auto w = sim.step();
    if (work_of(w, later)) {
      EXPECT_NE(work_of(w, young), nullptr);
    }
    resumed = work_of(w, young) != nullptr;
  }
  ASSERT_TRUE(resumed);
  sim.run_all();
}

TEST(Scheduler, ShortRequestsDoNotStarveAnEarlierLongPrompt) {
  Sim sim(256, 4, {4, 256, 16});
  Sequence* longp = sim.add(prompt_of(100, 5), params(DecodeMode::kAR, 2));
  int steps = 0;
  while (!sim.finished.count(longp->id) && steps < 200) {
    sim.add(prompt_of(3, steps), params(DecodeMode::kAR, 1));  // a new one every step
    sim.step();
    ++steps;
  }
  EXPECT_TRUE(sim.finished.count(longp->id));
  EXPECT_LE(steps, 100 / 16 + 3);
}

}  // namespace
}  // namespace wedlm
