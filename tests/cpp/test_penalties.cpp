// Presence, frequency and repetition penalties, logit_bias and banned ids, in both decoders, on a
// model whose every row has the same logits: what each knob changes is the only thing that changes
// the output.
#include <gtest/gtest.h>

#include "decode/generate.h"

namespace wedlm {
namespace {

constexpr int64_t kVocab = 16, kMask = 15, kStop = 14;

// Every logit row: token 10 at 3, 11 at 2.5, 12 at 2, the rest at 0.
class FixedModel final : public Forward {
 public:
  FixedModel() { cfg_.vocab_size = kVocab; }
  const ModelConfig& config() const override { return cfg_; }
  const char* device() const override { return "fixed"; }
  int64_t n_blocks() const override { return 1000; }
  int64_t block_size() const override { return 1; }
  void set_layer_observer(LayerObserver) override {}
  void forward(const Batch& b, StepOutput& out) override {
    out.logits.assign(b.logit_rows.size() * kVocab, 0.f);
    for (size_t r = 0; r < b.logit_rows.size(); ++r) {
      out.logits[r * kVocab + 10] = 3;
      out.logits[r * kVocab + 11] = 2.5;
      out.logits[r * kVocab + 12] = 2;
    }
    out.pick_from_logits(b, kVocab);
  }

 private:
  ModelConfig cfg_;
};

std::vector<int32_t> decode(DecodeMode mode, const std::function<void(GenerateParams&)>& set) {
  FixedModel model;
  ModelFacts facts{kVocab, kMask, 1000, {kStop}, nullptr};
  GenerateParams p;
  p.mode = mode;
  p.max_tokens = 6;
  p.sampling.temperature = 0;
  p.threshold.reset();  // WeDLM: one slot a step, so each sees the ones before
  set(p);
  auto r = generate(model, facts, std::vector<int32_t>{1, 2, 10}, p);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.value().output;
}

using Ids = std::vector<int32_t>;

TEST(Penalties, EachKnobInBothDecoders) {
  for (DecodeMode mode : {DecodeMode::kAR, DecodeMode::kWeDLM}) {
    EXPECT_EQ(decode(mode, [](GenerateParams&) {}), Ids(6, 10));
    // presence 1: 10 (3 -> 2 once used), then 11 (2.5 -> 1.5), then 10 and 12 tie at 2 (lowest id)
    EXPECT_EQ(decode(mode, [](GenerateParams& p) { p.presence_penalty = 1; }),
              (Ids{10, 11, 10, 10, 10, 10}));
    // frequency 1: each use costs 1 more
    EXPECT_EQ(decode(mode, [](GenerateParams& p) { p.frequency_penalty = 1; }),
              (Ids{10, 11, 10, 12, 11, 10}));
    EXPECT_EQ(decode(mode, [](GenerateParams& p) { p.logit_bias = {{13, 100.f}}; }), Ids(6, 13));
    EXPECT_EQ(decode(mode,
                     [](GenerateParams& p) {
                       p.logit_bias = {{10, -100.f}, {11, -1.f}};
                     }),
              Ids(6, 12));
    EXPECT_EQ(decode(mode, [](GenerateParams& p) { p.banned_ids = {10, 11}; }), Ids(6, 12));
    // repetition 2: 10 is in the prompt (3 -> 1.5), so 11; once used (2.5 -> 1.25) 12 (2); then
    // 10 leads again (1.5 > 1.25 > 1): the penalty does not grow with use
    EXPECT_EQ(decode(mode, [](GenerateParams& p) { p.repetition_penalty = 2; }),
              (Ids{11, 12, 10, 10, 10, 10}));
  }
}

TEST(Penalties, LogitEditsApplyRepetitionThenTerms) {
  std::vector<float> row = {2, -2, 1, 0};
  LogitEdits e;
  e.repetition = 2;
  e.seen = {0, 1, 9};  // 9 is outside the row: ignored
  e.add = {{2, 0.5f}, {2, 0.25f}, {3, -1.f}};
  e.apply(row.data(), 4);
  EXPECT_EQ(row, (std::vector<float>{1, -4, 1.75f, -1}));
}

TEST(Penalties, OutOfRangeIsRefusedByName) {
  FixedModel model;
  ModelFacts facts{kVocab, kMask, 1000, {kStop}, nullptr};
  GenerateParams p;
  p.frequency_penalty = 3;
  auto r = generate(model, facts, std::vector<int32_t>{1}, p);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("penalties"), std::string::npos);
  p.frequency_penalty = 0;
  p.logit_bias = {{99, 1.f}};
  r = generate(model, facts, std::vector<int32_t>{1}, p);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("logit_bias 99"), std::string::npos);
}

}  // namespace
}  // namespace wedlm
