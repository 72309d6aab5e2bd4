// The serving engine on the bundled model: requests batched together give exactly the tokens they
// give alone (generate() on a private cache), in any arrival order, preempted or not, greedy or
// seeded; cancellation frees every block over 1000 requests; a second turn prefills only its new
// tokens and equals a cold run; a full queue answers "overloaded"; bad requests are named.
#include <algorithm>
#include <atomic>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "bundled_model.h"
#include "decode/generate.h"
#include "engine/engine.h"
#include "io/weights.h"
#include "model/make_forward.h"
#include "ops/ops.h"
#include "test_util.h"

namespace wedlm {
namespace {

using nlohmann::json;

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
  RequestEvent end;
};

Outcome drain(RequestHandle& h) {
  Outcome o;
  int64_t last_step = 0;
  while (auto e = h.next()) {
    if (e->kind == RequestEvent::Kind::kFinished) {
      o.end = std::move(*e);
      break;
    }
    EXPECT_GT(e->step, last_step) << "steps are increasing";
    last_step = e->step;
    o.tokens.insert(o.tokens.end(), e->tokens.begin(), e->tokens.end());
    o.logprobs.insert(o.logprobs.end(), e->logprobs.begin(), e->logprobs.end());
  }
  return o;
}

// A CPU forward inside another, for test doubles that change or watch one behaviour.
class WrappedCpuForward : public Forward {
 public:
  explicit WrappedCpuForward(std::unique_ptr<CpuForward> cpu) : cpu_(std::move(cpu)) {}
  const ModelConfig& config() const override { return cpu_->config(); }
  const char* device() const override { return "cpu"; }
  int64_t n_blocks() const override { return cpu_->n_blocks(); }
  int64_t block_size() const override { return cpu_->block_size(); }
  void set_layer_observer(LayerObserver f) override { cpu_->set_layer_observer(std::move(f)); }

 protected:
  std::unique_ptr<CpuForward> cpu_;
};

// A forward that answers every row by the rule's sorting reference (choose_token), from the CPU
// model's logits of every logit row: what any correct forward returns, made another way.
class ReferencePicksForward final : public WrappedCpuForward {
 public:
  using WrappedCpuForward::WrappedCpuForward;
  void forward(const Batch& b, StepOutput& out) override {
    Batch every = b;  // the whole row of every logit row
    for (RowRequest& q : every.requests) q.wants_logits = true;
    StepOutput all;
    cpu_->forward(every, all);
    const int64_t V = config().vocab_size;
    out = StepOutput{};
    out.logits_index.assign(b.logit_rows.size(), -1);
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      const float* row = all.logits_of(r, V);
      const RowDraw& d = b.requests[r].draw;
      const SamplingParams sp{d.temperature, d.top_k, d.top_p, 0};
      out.picks.push_back({choose_token(row, V, sp, d.u, d.banned), row_entropy(row, V)});
      if (!b.requests[r].wants_logits) continue;
      out.logits_index[r] = int32_t(out.logits.size() / size_t(V));
      out.logits.insert(out.logits.end(), row, row + V);
    }
    ++forwards;
  }
  int64_t forwards = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bm_ = new test::BundledModel();
    ck_ = bm_->ck.get();
    model_ = bm_->model.get();
    std::ifstream in(test::source_dir() + "/tests/data/heldout_wedlm_tiny.jsonl");
    std::string line;
    while (std::getline(in, line)) prompts_.push_back(json::parse(line)["prompt_ids"]);
  }
  static void TearDownTestSuite() { delete bm_; }

  // Request i: a held-out prompt, a mode, a window, greedy or seeded sampling.
  static Request request(size_t i, int64_t max_tokens = 48) {
    Request r;
    r.prompt = prompts_[(i * 37) % prompts_.size()];
    GenerateParams& p = r.params;
    p.mode = i % 3 == 2 ? DecodeMode::kAR : DecodeMode::kWeDLM;
    p.max_tokens = max_tokens;
    p.window = i % 2 ? 8 : 16;
    p.threshold = i % 5 == 4 ? std::optional<double>() : std::optional<double>(0.4 + 0.1 * (i % 3));
    p.sampling.temperature = i % 4 == 1 ? 1.0 : 0.0;
    p.sampling.top_p = i % 8 == 1 ? 0.9 : 1.0;
    p.sampling.seed = 1000 + i;
    return r;
  }

  // The reference: generate() on a private cache.
  static std::vector<int32_t> alone(const Request& r) {
    return generate(*bm_->forward(), facts(), r.prompt, r.params).value().output;
  }

  static ModelFacts facts() { return facts_of(ck_->config()); }

  // A CPU forward with a pool of `kv_tokens` slots (default: 4 x the context).
  static std::unique_ptr<Forward> cpu(int64_t kv_tokens = 0) { return bm_->forward(kv_tokens); }

  static EngineConfig config(int64_t max_running = 8) {
    EngineConfig c;
    c.scheduler.max_running = max_running;
    c.scheduler.prefill_chunk = 64;
    c.scheduler.max_waiting = 2000;
    return c;
  }

  static std::vector<Outcome> run_all(Engine& eng, const std::vector<Request>& reqs) {
    std::vector<std::shared_ptr<RequestHandle>> hs;
    for (const Request& r : reqs) hs.push_back(eng.submit(r).value());
    std::vector<Outcome> out;
    for (auto& h : hs) out.push_back(drain(*h));
    return out;
  }

  static inline Checkpoint* ck_ = nullptr;
  static inline test::BundledModel* bm_ = nullptr;
  static inline Model* model_ = nullptr;
  static inline std::vector<std::vector<int32_t>> prompts_;
};

TEST_F(EngineTest, ConcurrentRequestsGiveWhatTheyGiveAloneInAnyOrder) {
  std::vector<Request> reqs;
  for (size_t i = 0; i < 16; ++i) reqs.push_back(request(i));
  std::vector<std::vector<int32_t>> want;
  for (const Request& r : reqs) want.push_back(alone(r));
  Engine eng(cpu(), facts(), config());
  const auto fwd = run_all(eng, reqs);
  std::vector<Request> rev(reqs.rbegin(), reqs.rend());
  const auto bwd = run_all(eng, rev);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(fwd[i].tokens, want[i]) << "request " << i << " batched";
    EXPECT_EQ(bwd[reqs.size() - 1 - i].tokens, want[i]) << "request " << i << " reversed";
    EXPECT_EQ(fwd[i].end.counters.completion_tokens, int64_t(want[i].size()));
    EXPECT_TRUE(fwd[i].end.finish_reason == "stop" || fwd[i].end.finish_reason == "length");
  }
  EXPECT_GT(eng.stats().steps, 0);
}

// Greedy and sampled requests alike, with and without logprobs: a forward that answers the rows
// another way (the sorting reference, every row's logits taken) decodes the same tokens, in the
// engine and in generate().
TEST_F(EngineTest, AnyForwardThatAnswersTheRowsDecodesAlike) {
  std::vector<Request> plain, with_logprobs;
  int sampled = 0;
  for (size_t i = 0; i < 16; ++i) {
    plain.push_back(request(i));
    sampled += plain.back().params.sampling.temperature > 0;
  }
  ASSERT_GE(sampled, 3) << "the set must sample";
  with_logprobs = plain;
  with_logprobs[0].params.logprobs = 2;  // one request that needs whole rows, in every batch
  for (const auto* reqs : {&plain, &with_logprobs}) {
    auto owned = std::make_unique<ReferencePicksForward>(bm_->forward());
    ReferencePicksForward* f = owned.get();
    Engine eng(std::move(owned), facts(), config(16));
    const auto got = run_all(eng, *reqs);
    for (int k = 0; k < 1000 && eng.stats().running > 0; ++k)     // the last step's stats land
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // just after its events
    for (size_t i = 0; i < reqs->size(); ++i)
      EXPECT_EQ(got[i].tokens, alone((*reqs)[i])) << "request " << i;
    EXPECT_EQ(f->forwards, eng.stats().steps) << "every step through the one call";
  }
  for (size_t i = 0; i < plain.size(); ++i) {  // generate() on one sequence
    ReferencePicksForward f(bm_->forward());
    const GenerateResult r = generate(f, facts(), plain[i].prompt, plain[i].params).value();
    const GenerateResult want =
        generate(*bm_->forward(), facts(), plain[i].prompt, plain[i].params).value();
    EXPECT_EQ(r.output, want.output) << "request " << i;
    EXPECT_EQ(r.steps.size(), want.steps.size()) << "request " << i;
    EXPECT_EQ(f.forwards, r.forwards + (plain[i].params.mode == DecodeMode::kWeDLM ? 1 : 0))
        << "request " << i << ": a WeDLM prefill, then one forward a step";
  }
}

// A CPU forward that records the CPU thread count its forwards ran under.
class ThreadCountForward final : public WrappedCpuForward {
 public:
  using WrappedCpuForward::WrappedCpuForward;
  void forward(const Batch& b, StepOutput& out) override {
    cpu_->forward(b, out);
    seen = cpu_threads();
  }
  std::atomic<int> seen{0};
};

// OpenMP's thread count is per thread: the engine's loop must run the forward on its creator's
// (`-t`), not the process default (the bug: `wedlm bench/batch/serve -t 1` ran on every core).
TEST_F(EngineTest, TheLoopRunsWithItsCreatorsThreadCount) {
  const int before = cpu_threads();
  for (const int want : {1, 3}) {
    set_cpu_threads(want);
    auto owned = std::make_unique<ThreadCountForward>(bm_->forward());
    ThreadCountForward* f = owned.get();
    set_cpu_threads(before);  // the forward keeps what it was made with
    Engine eng(std::move(owned), facts(), config());
    run_all(eng, {request(0)});
    EXPECT_EQ(f->seen.load(), want);
  }
}

TEST_F(EngineTest, LogprobsStreamWithTheirTokensAsGenerateGivesThem) {
  std::vector<Request> reqs;
  for (size_t i = 0; i < 6; ++i) reqs.push_back(request(i)), reqs.back().params.logprobs = 3;
  Engine eng(cpu(), facts(), config());
  const auto got = run_all(eng, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const GenerateResult want = generate(*cpu(), facts(), reqs[i].prompt, reqs[i].params).value();
    ASSERT_EQ(got[i].tokens, want.output);
    ASSERT_EQ(got[i].logprobs.size(), want.output.size()) << "request " << i;
    for (size_t t = 0; t < want.output.size(); ++t) {
      EXPECT_EQ(got[i].logprobs[t].logprob, want.logprobs[t].logprob) << "request " << i;
      ASSERT_EQ(got[i].logprobs[t].top.size(), want.logprobs[t].top.size());
      ASSERT_GE(got[i].logprobs[t].top.size(), 1u);  // fewer than 3 only under top-p
      EXPECT_EQ(got[i].logprobs[t].top[0].id, want.logprobs[t].top[0].id);
    }
  }
}

TEST_F(EngineTest, APreemptedRequestFinishesWithTheSameOutput) {
  std::vector<Request> reqs;
  for (size_t i = 0; i < 8; ++i) reqs.push_back(request(i, 120));
  int64_t peak = 0;
  for (const Request& r : reqs)
    peak = std::max<int64_t>(peak, int64_t(r.prompt.size()) + 120 + 2 * r.params.window);
  Engine eng(cpu(peak + 32), facts(), config());  // room for about one and a bit
  const auto out = run_all(eng, reqs);
  int64_t preempted = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(out[i].tokens, alone(reqs[i])) << "request " << i;
    preempted += out[i].end.counters.preemptions;
  }
  EXPECT_GT(preempted, 0) << "the pool was meant to force preemptions";
  EXPECT_EQ(eng.stats().preemptions, preempted);
}

TEST_F(EngineTest, CancellationFreesEveryBlockOver1000Requests) {
  Engine eng(cpu(4096), facts(), config(16));
  std::mt19937 rng(7);
  std::vector<std::shared_ptr<RequestHandle>> hs;
  int cancelled = 0, finished = 0;
  for (size_t i = 0; i < 1000; ++i) {
    hs.push_back(eng.submit(request(i, 12)).value());
    if (rng() % 3 == 0) hs.back()->cancel();  // at once
    if (hs.size() == 32 || i == 999) {
      for (auto& h : hs) {
        if (rng() % 4 == 0) (void)h->next(), h->cancel();  // mid-stream
        const Outcome o = drain(*h);
        cancelled += o.end.finish_reason == "cancelled";
        finished += o.end.finish_reason != "cancelled";
      }
      hs.clear();
    }
  }
  EXPECT_EQ(cancelled + finished, 1000);
  EXPECT_GT(cancelled, 200);
  EXPECT_GT(finished, 200);
  EngineStats s = eng.stats();
  for (int i = 0; i < 100 && s.running + s.waiting > 0; ++i) {  // the loop publishes after a step
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = eng.stats();
  }
  EXPECT_EQ(s.running + s.waiting, 0);
  EXPECT_EQ(s.kv_blocks_free, s.kv_blocks) << "KV blocks leaked";
}

TEST_F(EngineTest, SecondTurnPrefillsOnlyItsNewTokensAndEqualsAColdRun) {
  Request t1 = request(0, 40);
  Engine eng(cpu(), facts(), config());
  const Outcome o1 = drain(*eng.submit(t1).value());
  Request t2 = t1;
  t2.prompt.insert(t2.prompt.end(), o1.tokens.begin(), o1.tokens.end());
  const std::vector<int32_t> more = {198, 2011, 268, 198, 660, 522, 2012, 198, 2011, 263, 198};
  t2.prompt.insert(t2.prompt.end(), more.begin(), more.end());
  const Outcome o2 = drain(*eng.submit(t2).value());
  const int64_t reusable = (int64_t(t1.prompt.size() + o1.tokens.size())) / 16 * 16;
  EXPECT_EQ(o2.end.counters.cached_tokens, reusable);
  EXPECT_EQ(o2.end.counters.prefill_tokens, int64_t(t2.prompt.size()) - reusable);
  EXPECT_EQ(o2.tokens, alone(t2));
  Engine cold(cpu(), facts(), config());
  const Outcome c2 = drain(*cold.submit(t2).value());
  EXPECT_EQ(c2.end.counters.cached_tokens, 0);
  EXPECT_EQ(c2.tokens, o2.tokens);
}

TEST_F(EngineTest, HundredSeededRequestsRepeatIdentically) {
  std::vector<Request> reqs;
  for (size_t i = 0; i < 100; ++i) {
    reqs.push_back(request(i, 24));
    reqs.back().params.sampling.temperature = 0.8;
  }
  Engine eng(cpu(), facts(), config(16));
  const auto a = run_all(eng, reqs);
  const auto b = run_all(eng, reqs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(a[i].tokens, b[i].tokens) << "request " << i;
}

TEST_F(EngineTest, AFullQueueAnswersOverloaded) {
  EngineConfig c = config(1);
  c.scheduler.max_waiting = 2;
  Engine eng(cpu(), facts(), c);
  std::vector<std::shared_ptr<RequestHandle>> ok;
  int overloaded = 0;
  for (size_t i = 0; i < 10; ++i) {
    auto r = eng.submit(request(i, 200));
    if (r.is_ok())
      ok.push_back(r.value());
    else {
      EXPECT_EQ(r.status().kind(), ErrorKind::kOverloaded);
      EXPECT_NE(r.status().message().find("limit is 2"), std::string::npos);
      ++overloaded;
    }
  }
  EXPECT_GT(overloaded, 0);
  for (auto& h : ok) {
    EXPECT_NE(drain(*h).end.finish_reason, "cancelled");
    EXPECT_FALSE(h->next_for(std::chrono::milliseconds(1)).has_value()) << "nothing after the end";
    EXPECT_FALSE(h->next().has_value());
  }
}

// Requests submitted just before the engine goes away still end (cancelled), so that nobody
// waiting on them hangs.
TEST_F(EngineTest, RequestsSubmittedAsTheEngineStopsAreFinished) {
  std::vector<std::shared_ptr<RequestHandle>> hs;
  {
    Engine eng(cpu(), facts(), config());
    for (size_t i = 0; i < 24; ++i) hs.push_back(eng.submit(request(i, 200)).value());
  }
  for (auto& h : hs) {
    std::optional<RequestEvent> e;
    for (int k = 0; k < 1000 && (e = h->next_for(std::chrono::milliseconds(5))); ++k)
      if (e->kind == RequestEvent::Kind::kFinished) break;
    ASSERT_TRUE(e.has_value()) << "request " << h->id() << " never finished";
    EXPECT_EQ(e->kind, RequestEvent::Kind::kFinished);
  }
}

TEST_F(EngineTest, BadRequestsAreNamed) {
  Engine eng(cpu(256), facts(), config());
  Request r = request(0);
  r.prompt.push_back(5000);
  EXPECT_NE(eng.submit(r).status().message().find("token id 5000"), std::string::npos);
  r = request(0, 600);
  EXPECT_NE(eng.submit(r).status().message().find("KV pool holds 256"), std::string::npos);
  r = request(0);
  r.params.window = 0;
  EXPECT_NE(eng.submit(r).status().message().find("window 0"), std::string::npos);
  EXPECT_TRUE(eng.submit(request(1, 4)).is_ok()) << "the engine keeps working";
}

TEST(KvSize, TokensOrBytesWithAUnit) {
  EXPECT_EQ(parse_kv_size("8192").value().tokens, 8192);
  EXPECT_EQ(parse_kv_size("1MiB").value().bytes, 1048576.0);
  EXPECT_EQ(parse_kv_size("1.5GB").value().bytes, 1.5e9);
  for (const char* bad : {"", "12x", "-3", "1.5", "MiB", "0"})
    EXPECT_NE(parse_kv_size(bad).status().message().find("KV size"), std::string::npos) << bad;
}

// A pool given in bytes is converted by the device's bytes per token (fp32 K and V on the CPU).
TEST_F(EngineTest, MakeForwardSizesThePoolFromTheSpec) {
  const ModelConfig& cfg = ck_->config();
  const int64_t per_token = kv_bytes_per_token(cfg, "cpu");
  EXPECT_EQ(per_token, 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * 4);
  const auto model = []() -> Model& { return *model_; };
  ForwardSpec spec;
  spec.device = "cpu";
  spec.kv.bytes = double(per_token) * 1000;
  EXPECT_EQ(make_forward(spec, *ck_, model).value()->kv_tokens(), 1008);  // 63 blocks of 16
  spec.kv = KvSize{};
  EXPECT_EQ(make_forward(spec, *ck_, model).value()->kv_tokens(), default_kv_tokens(cfg));
  spec.kv.bytes = 100;
  EXPECT_NE(make_forward(spec, *ck_, model).status().message().find("holds no token"),
            std::string::npos);
  spec.kv = KvSize{};
  spec.device = "tpu";
  EXPECT_NE(make_forward(spec, *ck_, model).status().message().find("--device 'tpu'"),
            std::string::npos);
}

}  // namespace
}  // namespace wedlm
