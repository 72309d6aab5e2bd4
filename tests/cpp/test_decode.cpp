// WeDLM and AR decoding against a scripted fake model: the worked example of wedlm-spec.md §3.8
// row by row, and the edge cases of §3.6 / §4 (stop inside a commit run, max_tokens inside a run,
// the context limit, one-slot mode, the mask token never emitted).
#include <cmath>
#include <functional>
#include <map>

#include <gtest/gtest.h>

#include "decode/generate.h"

namespace wedlm {
namespace {

constexpr int64_t kVocab = 16, kMask = 15, kStop = 14;
enum : int32_t { A = 1, B, C, D, E, F };

// Logits whose softmax has entropy `h` (natural log) and argmax `tok`: one token at probability q,
// the rest sharing 1 - q; q found by bisection.
std::vector<float> row_with(double h, int32_t tok) {
  auto ent = [](double q) {
    const double r = (1 - q) / (kVocab - 1);
    return -q * std::log(q) - (1 - q) * std::log(r);
  };
  double lo = 1.0 / kVocab + 1e-9, hi = 1 - 1e-15;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (ent(mid) > h ? lo : hi) = mid;
  }
  std::vector<float> row(kVocab, float(std::log((1 - lo) / (kVocab - 1))));
  row[size_t(tok)] = float(std::log(lo));
  return row;
}

struct Call {
  std::vector<int32_t> ids;
  std::vector<int64_t> pos;
  int64_t n_kv;
  std::vector<int32_t> rows;
};

// A Forward whose every logit row gets script(step, position) -> (entropy, token): logits of that
// entropy and argmax, picked on the host as any forward without its own picks does.
class ScriptedModel final : public Forward {
 public:
  using Script = std::function<std::pair<double, int32_t>(int, int64_t)>;
  explicit ScriptedModel(Script s) : script_(std::move(s)) { cfg_.vocab_size = kVocab; }
  ModelFacts facts{kVocab, kMask, 1000, {kStop}, nullptr};  // what generate() is told
  const ModelConfig& config() const override { return cfg_; }
  const char* device() const override { return "script"; }
  int64_t n_blocks() const override { return 1000; }
  int64_t block_size() const override { return 1; }
  void set_layer_observer(LayerObserver) override {}
  void forward(const Batch& b, StepOutput& out) override {
    EXPECT_EQ(b.segments.size(), 1u) << "generate() runs one sequence";
    calls.push_back({b.ids, b.pos, b.segments[0].n_kv, b.logit_rows});
    out.logits.clear();
    for (int32_t r : b.logit_rows) {  // WeDLM asks for mask rows only; AR for the last row
      const auto [h, t] = script_(int(calls.size()) - 2, b.pos[size_t(r)]);  // step 0 = first
      const std::vector<float> row = row_with(h, t);
      out.logits.insert(out.logits.end(), row.begin(), row.end());
    }
    out.pick_from_logits(b, kVocab);
  }
  std::vector<Call> calls;

 private:
  ModelConfig cfg_;
  Script script_;
};

GenerateParams params(int64_t window, int64_t max_tokens) {
  GenerateParams p;
  p.window = window;
  p.max_tokens = max_tokens;
  p.sampling.temperature = 0;
  return p;
}

const std::vector<int32_t> kPrompt = {10, 11, 12, 13, 10, 11, 12, 13, 10, 11};  // P = 10

TEST(WeDLM, WorkedExampleOfTheSpec) {
  // §3.8: W = 4, tau = 0.4, lambda = 0.02, greedy.
  std::map<std::pair<int, int64_t>, std::pair<double, int32_t>> s = {
      {{0, 10}, {0.05, A}}, {{0, 11}, {0.30, B}}, {{0, 12}, {1.20, C}}, {{0, 13}, {0.10, D}},
      {{1, 12}, {0.20, C}}, {{1, 14}, {0.90, E}}, {{1, 15}, {0.50, F}}, {{2, 14}, {0.01, E}},
      {{2, 15}, {0.03, F}}, {{2, 16}, {0.60, A}}, {{2, 17}, {0.90, B}}};
  ScriptedModel m([&](int step, int64_t pos) { return s.at({step, pos}); });
  auto r = generate(m, m.facts, kPrompt, params(4, 4));
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(m.calls.size(), 4u);  // prefill + 3 steps
  EXPECT_TRUE(m.calls[0].rows.empty()) << "prefill logits are never computed";
  const Call& s1 = m.calls[1];
  EXPECT_EQ(s1.ids, (std::vector<int32_t>{kMask, kMask, kMask, kMask}));
  EXPECT_EQ(s1.pos, (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(s1.n_kv, 10);
  const Call& s2 = m.calls[2];  // [A B M D M M]: filled first, then masks, true positions
  EXPECT_EQ(s2.ids, (std::vector<int32_t>{A, B, D, kMask, kMask, kMask}));
  EXPECT_EQ(s2.pos, (std::vector<int64_t>{10, 11, 13, 12, 14, 15}));
  EXPECT_EQ(s2.n_kv, 10);  // KV rows go to slots 10..15 in this physical order
  EXPECT_EQ(s2.rows, (std::vector<int32_t>{3, 4, 5}));  // LM head only for mask rows
  const Call& s3 = m.calls[3];                          // [C D M M M M], already sorted
  EXPECT_EQ(s3.ids, (std::vector<int32_t>{C, D, kMask, kMask, kMask, kMask}));
  EXPECT_EQ(s3.pos, (std::vector<int64_t>{12, 13, 14, 15, 16, 17}));
  EXPECT_EQ(s3.n_kv, 12);
  const GenerateResult& g = r.value();
  EXPECT_EQ(g.output, (std::vector<int32_t>{A, B, C, D}));
  EXPECT_EQ(g.forwards, 3);
  EXPECT_EQ(g.finish_reason, "length");
  ASSERT_EQ(g.steps.size(), 3u);
  EXPECT_EQ(g.steps[0].commit, 0);
  EXPECT_EQ(g.steps[0].fill, (std::vector<std::pair<int64_t, int32_t>>{{0, A}, {1, B}, {3, D}}));
  EXPECT_EQ(g.steps[1].commit, 2);
  EXPECT_EQ(g.steps[1].fill, (std::vector<std::pair<int64_t, int32_t>>{{0, C}}));
  EXPECT_EQ(g.steps[2].commit, 2);
}

// Every mask confident; step 0 fills the window with `toks` by position.
ScriptedModel confident(std::vector<int32_t> toks) {
  return ScriptedModel([toks](int, int64_t pos) {
    return std::make_pair(0.001, toks[size_t(pos - 10) % toks.size()]);
  });
}

TEST(WeDLM, StopTokenInsideACommitRunEndsItAndIsKept) {
  ScriptedModel m = confident({A, kStop, C, D});
  std::vector<int32_t> seen;
  auto r = generate(m, m.facts, kPrompt, params(4, 100), [&](std::span<const int32_t> t) {
    seen.insert(seen.end(), t.begin(), t.end());
  });
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().output, (std::vector<int32_t>{A, kStop}));
  EXPECT_EQ(seen, r.value().output) << "streamed tokens must equal the output";
  EXPECT_EQ(r.value().finish_reason, "stop");
  EXPECT_EQ(r.value().forwards, 2);
}

TEST(WeDLM, MaxTokensInsideARun) {
  ScriptedModel m = confident({A, B, C, D});
  auto r = generate(m, m.facts, kPrompt, params(4, 3));
  EXPECT_EQ(r.value().output, (std::vector<int32_t>{A, B, C}));
  EXPECT_EQ(r.value().finish_reason, "length");
}

TEST(WeDLM, ContextLimitShrinksTheWindowAndEndsWithLength) {
  ScriptedModel m = confident({A, B, C, D});
  GenerateParams p = params(4, 100);
  m.facts.context = 13;  // room for 3 output slots after the 10-token prompt
  auto r = generate(m, m.facts, kPrompt, p);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().output.size(), 3u);
  EXPECT_EQ(r.value().finish_reason, "length");
  for (const Call& c : m.calls) EXPECT_LE(c.n_kv + int64_t(c.ids.size()), 13);
  m.facts.context = 10;
  EXPECT_NE(generate(m, m.facts, kPrompt, p).status().message().find("no room"), std::string::npos);
}

TEST(WeDLM, ThresholdNoneFillsExactlyOneSlotPerStep) {
  ScriptedModel m = confident({A, B, C, D});
  GenerateParams p = params(4, 6);
  p.threshold.reset();
  auto r = generate(m, m.facts, kPrompt, p);
  for (size_t k = 0; k + 1 < r.value().steps.size(); ++k)
    EXPECT_EQ(r.value().steps[k].fill.size(), 1u);
  EXPECT_EQ(r.value().output.size(), 6u);
}

TEST(WeDLM, TheMaskTokenIsNeverEmitted) {
  // The mask id is the argmax everywhere; the runner-up must be chosen instead.
  ScriptedModel m([](int, int64_t) { return std::make_pair(0.001, int32_t(kMask)); });
  auto r = generate(m, m.facts, kPrompt, params(4, 8));
  for (int32_t t : r.value().output) EXPECT_NE(t, kMask);
}

// Token t decodes to the letters of kText[t] (A -> "ab", B -> "cd", ...).
std::string letters(std::span<const int32_t> ids) {
  std::string s;
  for (int32_t t : ids) s += std::string{char('a' + 2 * (t - 1)), char('b' + 2 * (t - 1))};
  return s;
}

TEST(StopStrings, MatchAcrossTokensKeepsTheCompletingTokenAndCutsTheText) {
  for (DecodeMode mode : {DecodeMode::kWeDLM, DecodeMode::kAR}) {
    ScriptedModel m =
        mode == DecodeMode::kAR
            ? ScriptedModel([](int, int64_t) { return std::make_pair(0.0, int32_t(A)); })
            : confident({A, B, C, D});
    GenerateParams p = params(4, 100);
    p.mode = mode;
    m.facts.text = letters;
    p.stop_strings = mode == DecodeMode::kAR ? std::vector<std::string>{"zz", "bab"}
                                             : std::vector<std::string>{"dezz", "bcd"};
    auto r = generate(m, m.facts, kPrompt, p);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().finish_reason, "stop");
    if (mode == DecodeMode::kWeDLM) {  // "abcdefgh": "bcd" starts inside A, ends inside B
      EXPECT_EQ(r.value().output, (std::vector<int32_t>{A, B}));
      EXPECT_EQ(r.value().text_end, 1u);
    } else {  // "ababab": "bab" completes with the second A
      EXPECT_EQ(r.value().output, (std::vector<int32_t>{A, A}));
      EXPECT_EQ(r.value().text_end, 1u);
    }
  }
}

TEST(StopStrings, FoundAlsoWhenTheSameStepHitsAStopIdOrMaxTokens) {
  // one step commits A B (text "abcd") and then the stop id, or reaches max_tokens at B
  for (int64_t max_tokens : {100, 2}) {
    ScriptedModel m = confident({A, B, kStop, D});
    GenerateParams p = params(4, max_tokens);
    m.facts.text = letters;
    p.stop_strings = {"bc"};
    const GenerateResult r = generate(m, m.facts, kPrompt, p).value();
    EXPECT_EQ(r.output, (std::vector<int32_t>{A, B})) << "max_tokens " << max_tokens;
    EXPECT_EQ(r.text_end, 1u);
    EXPECT_EQ(r.finish_reason, "stop");
  }
}

TEST(StopStrings, NoMatchNoEffect) {
  ScriptedModel m = confident({A, B, C, D});
  GenerateParams p = params(4, 8);
  m.facts.text = letters;
  p.stop_strings = {"zz"};
  auto r = generate(m, m.facts, kPrompt, p);
  EXPECT_EQ(r.value().output.size(), 8u);
  EXPECT_FALSE(r.value().text_end.has_value());
}

TEST(AR, NextTokenWithCacheOneRowPerStep) {
  ScriptedModel m([](int, int64_t) { return std::make_pair(0.0, int32_t(A)); });
  GenerateParams p = params(4, 3);
  p.mode = DecodeMode::kAR;
  auto r = generate(m, m.facts, kPrompt, p);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().forwards, 3);
  ASSERT_EQ(m.calls.size(), 3u);
  EXPECT_EQ(m.calls[0].rows, (std::vector<int32_t>{9}));  // prefill: last row only
  EXPECT_EQ(m.calls[1].n_kv, 10);
  EXPECT_EQ(m.calls[2].pos, (std::vector<int64_t>{11}));
}

TEST(Generate, BadParametersAreNamed) {
  ScriptedModel m = confident({A});
  GenerateParams p = params(0, 4);
  EXPECT_NE(generate(m, m.facts, kPrompt, p).status().message().find("window 0"),
            std::string::npos);
  p = params(4, 0);
  EXPECT_NE(generate(m, m.facts, kPrompt, p).status().message().find("max_tokens 0"),
            std::string::npos);
  p = params(4, 4);
  p.sampling.top_p = 0;
  EXPECT_NE(generate(m, m.facts, kPrompt, p).status().message().find("top_p"), std::string::npos);
  p = params(4, 4);
  EXPECT_NE(
      generate(m, m.facts, std::vector<int32_t>{99}, p).status().message().find("token id 99"),
      std::string::npos);
}

// log softmax of row_with(h, tok) at `tok`, the mask left out, by hand
double logprob_by_hand(double h, int32_t tok) {
  const std::vector<float> row = row_with(h, tok);
  double z = 0;
  for (int64_t i = 0; i < kVocab; ++i)
    if (i != kMask) z += std::exp(double(row[size_t(i)]));
  return double(row[size_t(tok)]) - std::log(z);
}

TEST(Logprobs, OnePerOutputTokenFromTheRowThatChoseItAndTheOutputUnchanged) {
  // confidence falls with the position: several steps, several fills per step
  auto script = [](int, int64_t pos) {
    return std::make_pair(0.05 * double(pos - 9), int32_t(A + pos % 5));
  };
  for (DecodeMode mode : {DecodeMode::kWeDLM, DecodeMode::kAR}) {
    ScriptedModel plain(script), logged(script);
    GenerateParams p = params(4, 12);
    p.mode = mode;
    const GenerateResult off = generate(plain, plain.facts, kPrompt, p).value();
    p.logprobs = 2;
    const GenerateResult on = generate(logged, logged.facts, kPrompt, p).value();
    EXPECT_EQ(on.output, off.output);
    EXPECT_TRUE(off.logprobs.empty());
    ASSERT_EQ(on.logprobs.size(), on.output.size());
    for (size_t i = 0; i < on.output.size(); ++i) {
      // output i sits at position 10 + i; WeDLM reads it off that row, AR off the row before
      const int64_t row_pos = 10 + int64_t(i) - (mode == DecodeMode::kAR ? 1 : 0);
      const auto [h, tok] = script(0, row_pos);
      EXPECT_EQ(on.output[i], tok);
      ASSERT_EQ(on.logprobs[i].top.size(), 2u);
      EXPECT_EQ(on.logprobs[i].top[0].id, tok) << "greedy takes the likeliest";
      EXPECT_NEAR(on.logprobs[i].logprob, logprob_by_hand(h, tok), 1e-5) << "token " << i;
    }
  }
}

}  // namespace
}  // namespace wedlm
