// Constrained decoding in both decoders, on random logits at temperature 1: every reply is a
// whole reply of the grammar and ends with the stop token; WeDLM fills only one leading run per
// step and lets forced tokens fill several slots a step.
#include <functional>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "constrain/json_schema.h"
#include "decode/generate.h"

namespace wedlm {
namespace {

constexpr int32_t kStop = 1, kMask = 2;

// Token bytes by id: 0 unused, 1 the stop, 2 the mask, then, as in a byte-level BPE, every
// printable byte and some longer pieces.
std::vector<std::string> vocab_bytes() {
  std::vector<std::string> v = {"",     "",      "",     "{\"",      "\":",         "\",\"",
                                "\"}",  "na",    "me",   "name",     "\"name\":\"", "ab",
                                "abc",  "x\"",   "\\n",  "\xC3",     "\xA9",        "\xC3\xA9",
                                "true", "false", "null", "{\"a\": ", ", \"b\": ",   "\n"};
  for (char c = 0x20; c < 0x7F; ++c) v.push_back(std::string(1, c));
  return v;
}

// Random logits for every row (a fresh draw per call and row), picked on the host.
class RandomModel final : public Forward {
 public:
  explicit RandomModel(uint64_t seed) : rng_(seed) {
    cfg_.vocab_size = int64_t(vocab_bytes().size());
  }
  const ModelConfig& config() const override { return cfg_; }
  const char* device() const override { return "random"; }
  int64_t n_blocks() const override { return 4000; }
  int64_t block_size() const override { return 1; }
  void set_layer_observer(LayerObserver) override {}
  void forward(const Batch& b, StepOutput& out) override {
    std::normal_distribution<float> n(0, 2);
    out.logits.resize(b.logit_rows.size() * size_t(cfg_.vocab_size));
    for (float& x : out.logits) x = n(rng_);
    out.pick_from_logits(b, cfg_.vocab_size);
  }

 private:
  ModelConfig cfg_;
  std::mt19937 rng_;
};

std::shared_ptr<const constrain::TokenMasks> masks_for(const std::string& schema) {
  auto g = constrain::compile_json_schema(nlohmann::ordered_json::parse(schema), "schema");
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  auto v =
      std::make_shared<const constrain::Vocabulary>(vocab_bytes(), std::vector<int64_t>{kStop});
  return std::make_shared<const constrain::TokenMasks>(
      std::make_shared<const constrain::Grammar>(std::move(g).value()), v);
}

struct Decoded {
  GenerateResult r;
  std::string text;  // the output's bytes before the stop
};

// Decodes under `c` at temperature 1; `more` changes further parameters.
Decoded run(const std::shared_ptr<const constrain::TokenMasks>& c, DecodeMode mode, uint64_t seed,
            double threshold = 0.4, const std::function<void(GenerateParams&)>& more = nullptr) {
  RandomModel model(seed);
  ModelFacts facts{model.config().vocab_size, kMask, 4000, {kStop}, nullptr};
  GenerateParams p;
  p.mode = mode;
  p.max_tokens = 1000;
  p.sampling.temperature = 1;
  p.sampling.seed = seed;
  p.threshold = threshold;
  p.constraint = c;
  p.logprobs = 2;
  if (more) more(p);
  auto r = generate(model, facts, std::vector<int32_t>{3, 4, 5}, p);
  EXPECT_TRUE(r.is_ok());
  Decoded out{std::move(r).value(), ""};
  for (int32_t t : out.r.output)
    if (t != kStop) out.text += vocab_bytes()[size_t(t)];
  return out;
}

bool whole_reply(const constrain::TokenMasks& c, const std::string& text) {
  const constrain::State s = c.start().advance(c.grammar(), text);
  return !s.dead() && s.can_finish(c.grammar());
}

TEST(ConstrainedDecode, EveryReplyIsValidInBothDecoders) {
  const auto c = masks_for(R"({"type":"object","properties":{"name":{"type":"string",
      "maxLength":6},"n":{"type":"integer","minimum":-9,"maximum":59},"ok":{"type":"boolean"},
      "v":{"type":"array","items":{"type":"number","minimum":0,"maximum":9},"maxItems":3}},
      "required":["name","n","ok","v"]})");
  for (DecodeMode mode : {DecodeMode::kAR, DecodeMode::kWeDLM})
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      const Decoded x = run(c, mode, seed, seed % 2 ? 0.4 : 3.0);  // 3.0: most draws confident
      ASSERT_EQ(x.r.finish_reason, "stop") << x.text;
      ASSERT_EQ(x.r.output.back(), kStop);
      ASSERT_TRUE(whole_reply(*c, x.text)) << x.text;
      const auto v = nlohmann::json::parse(x.text);
      EXPECT_LE(v["name"].get<std::string>().size(), 12u);  // 6 code points, <= 2 bytes each
      EXPECT_LE(v["v"].size(), 3u);
      for (const auto& lp : x.r.logprobs) {  // under the constrained distribution
        EXPECT_GT(lp.logprob, -1e6);
        for (const auto& alt : lp.top) EXPECT_GT(alt.logprob, -1e6);
      }
    }
}

TEST(ConstrainedDecode, WeDLMFillsOneLeadingRunPerStep) {
  const auto c = masks_for(R"({"type":"array","items":{"type":"string","maxLength":3}})");
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Decoded x = run(c, DecodeMode::kWeDLM, seed, 5.0);
    ASSERT_TRUE(whole_reply(*c, x.text)) << x.text;
    for (const StepTrace& st : x.r.steps) {
      for (size_t k = 0; k < st.fill.size(); ++k) EXPECT_EQ(st.fill[k].first, int64_t(k));
    }
  }
}

// {"a":D,"b":D}: the keys, the closing brace and the stop are forced, so WeDLM fills them beside
// the digits it draws and needs fewer forwards than AR, which draws every token.
TEST(ConstrainedDecode, ForcedTextFillsSeveralSlotsAStep) {
  const auto c = masks_for(R"({"type":"object","properties":{"a":{"type":"integer","minimum":0,
      "maximum":9},"b":{"type":"integer","minimum":0,"maximum":9}},"required":["a","b"]})");
  int64_t wedlm_forwards = 0, ar_forwards = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Decoded w = run(c, DecodeMode::kWeDLM, seed, 1e-9), a = run(c, DecodeMode::kAR, seed);
    ASSERT_TRUE(whole_reply(*c, w.text)) << w.text;
    ASSERT_TRUE(whole_reply(*c, a.text)) << a.text;
    EXPECT_LE(w.r.forwards, 4)
        << w.text;  // step 1 '{..', 2 digit+', "b": ', 3 digit+'}'+stop, 4 commit
    EXPECT_GT(w.r.tokens_per_forward(), 1.0) << w.text;
    wedlm_forwards += w.r.forwards;
    ar_forwards += a.r.forwards;
  }
  EXPECT_LT(wedlm_forwards, ar_forwards);
}

// tool_choice auto's shape: free text, then after a trigger token a grammar's reply. The trigger
// is pushed by logit_bias so most replies hold one; what follows the first trigger must be a
// whole reply whenever the sequence ends on its stop, in both decoders.
TEST(ConstrainedDecode, AfterTheTriggerTheGrammarHolds) {
  const auto c = masks_for(R"({"type":"object","properties":{"a":{"type":"integer","minimum":0,
      "maximum":99},"s":{"type":"string","maxLength":4}},"required":["a","s"]})");
  const int32_t trigger = 5;  // "{\"": also valid text outside the grammar
  int triggered = 0;
  for (DecodeMode mode : {DecodeMode::kAR, DecodeMode::kWeDLM})
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      const GenerateResult r = run(c, mode, seed, seed % 2 ? 0.4 : 4.0, [&](GenerateParams& p) {
                                 p.max_tokens = 400;
                                 p.trigger_id = trigger;
                                 p.logit_bias = {{trigger, 4.f}, {kStop, -4.f}};
                                 p.logprobs = -1;
                               }).r;
      const auto at = std::find(r.output.begin(), r.output.end(), trigger);
      if (at == r.output.end()) continue;
      ++triggered;
      std::string after;
      for (auto it = at + 1; it != r.output.end(); ++it)
        if (*it != kStop) after += vocab_bytes()[size_t(*it)];
      const constrain::State st = c->start().advance(c->grammar(), after);
      ASSERT_FALSE(st.dead()) << after;
      if (r.finish_reason == "stop") ASSERT_TRUE(st.can_finish(c->grammar())) << after;
    }
  EXPECT_GT(triggered, 30);
}

}  // namespace
}  // namespace wedlm
