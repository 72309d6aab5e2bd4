#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "ops/sampling/sampling.h"
#include "sample_cases.h"

namespace wedlm {
namespace {

TEST(Sampler, EntropyOfKnownDistributions) {
  std::vector<float> flat(10, 3.0f);
  EXPECT_NEAR(row_entropy(flat.data(), 10), std::log(10.0), 1e-12);
  std::vector<float> sharp = {0, 0, 100, 0};
  EXPECT_NEAR(row_entropy(sharp.data(), 4), 0.0, 1e-12);
}

TEST(Sampler, GreedyTakesTheLowestIdOnTiesAndSkipsTheMask) {
  std::vector<float> l = {1, 5, 5, 2};
  Rng rng(1);
  SamplingParams g{0.0, 0, 1.0, 0};
  EXPECT_EQ(choose_token(l.data(), 4, g, rng.uniform(), -1), 1);
  EXPECT_EQ(choose_token(l.data(), 4, g, rng.uniform(), 1), 2);
}

TEST(Sampler, SameSeedSameDrawsEveryRun) {
  std::vector<float> l = {0.1f, 0.5f, 0.3f, 0.2f, 0.9f, 0.0f};
  SamplingParams p{1.0, 0, 1.0, 0};
  auto draws = [&](uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(choose_token(l.data(), 6, p, rng.uniform(), -1));
    return out;
  };
  EXPECT_EQ(draws(42), draws(42));
  EXPECT_NE(draws(42), draws(43));
  // Pinned: splitmix64's first output for seed 7. A change of RNG changes every seeded output.
  Rng r(7);
  EXPECT_EQ(r.next_u64(), 0x63cbe1e459320dd7ull);
}

TEST(Sampler, TopKKeepsTiesAndTopPKeepsTheCrossingToken) {
  // logits 3, 2, 2, 0: top-k 2 keeps the tie at 2 -> {0, 1, 2}
  std::vector<float> l = {3, 2, 2, 0};
  SamplingParams p{1.0, 2, 1.0, 0};
  std::set<int32_t> seen;
  Rng rng(3);
  for (int i = 0; i < 2000; ++i) seen.insert(choose_token(l.data(), 4, p, rng.uniform(), -1));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1, 2}));
  // probabilities 0.5, 0.3, 0.2 (approximately): top-p 0.6 keeps {0, 1}, the crossing one included
  std::vector<float> q = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingParams tp{1.0, 0, 0.6, 0};
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen.insert(choose_token(q.data(), 3, tp, rng.uniform(), -1));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(Sampler, TemperatureSharpens) {
  std::vector<float> l = {0.0f, 1.0f};
  Rng rng(9);
  int hot = 0, cold = 0;
  for (int i = 0; i < 4000; ++i) {
    hot += choose_token(l.data(), 2, {1.0, 0, 1.0, 0}, rng.uniform(), -1);
    cold += choose_token(l.data(), 2, {0.25, 0, 1.0, 0}, rng.uniform(), -1);
  }
  EXPECT_NEAR(hot / 4000.0, 1 / (1 + std::exp(-1.0)), 0.03);
  EXPECT_NEAR(cold / 4000.0, 1 / (1 + std::exp(-4.0)), 0.02);
}

// log softmax(x / t) over the ids in `keep`, by hand in double
double by_hand(const std::vector<float>& l, const std::vector<int32_t>& keep, int32_t tok,
               double t) {
  double z = 0;
  for (int32_t i : keep) z += std::exp(double(l[size_t(i)]) / t);
  return double(l[size_t(tok)]) / t - std::log(z);
}

TEST(Logprob, GreedyGivesTheModelsDistributionWithoutTheMask) {
  std::vector<float> l = {1.0f, 3.0f, 2.5f, 9.0f, -1.0f};  // id 3 is the mask
  const SamplingParams g{0.0, 0, 1.0, 0};
  const TokenLogprob r = token_logprob(l.data(), 5, g, 3, 1, 2);
  EXPECT_NEAR(r.logprob, by_hand(l, {0, 1, 2, 4}, 1, 1.0), 1e-6);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0].id, 1);
  EXPECT_EQ(r.top[1].id, 2);
  EXPECT_NEAR(r.top[1].logprob, by_hand(l, {0, 1, 2, 4}, 2, 1.0), 1e-6);
  EXPECT_TRUE(token_logprob(l.data(), 5, g, 3, 1, 0).top.empty());
}

TEST(Logprob, SamplingUsesTheFilteredTemperedDistribution) {
  std::vector<float> l = {1.0f, 3.0f, 2.5f, 0.0f, -1.0f};
  const SamplingParams p{0.5, 2, 1.0, 0};  // top-k 2 keeps ids 1 and 2
  const TokenLogprob r = token_logprob(l.data(), 5, p, -1, 2, 5);
  EXPECT_NEAR(r.logprob, by_hand(l, {1, 2}, 2, 0.5), 1e-6);
  ASSERT_EQ(r.top.size(), 2u) << "only the candidates can be drawn";
  EXPECT_NEAR(std::exp(r.top[0].logprob) + std::exp(r.top[1].logprob), 1.0, 1e-6);
  EXPECT_EQ(token_logprob(l.data(), 5, p, -1, 0, 0).logprob, -INFINITY) << "filtered out";
}

// 40000 draws of `draw(logits, params, u)` on one row, each token's frequency against the
// probability token_logprob gives it.
template <class Draw>
void expect_frequencies_of_logprobs(Draw draw, uint64_t seed) {
  const std::vector<float> l = {0.2f, 1.1f, 0.7f, -0.3f};
  const SamplingParams p{0.8, 0, 0.95, 0};
  Rng rng(seed);
  std::vector<int> count(4, 0);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[size_t(draw(l.data(), p, rng.uniform()))];
  for (int32_t t = 0; t < 4; ++t) {
    const double want = std::exp(double(token_logprob(l.data(), 4, p, -1, t, 0).logprob));
    EXPECT_NEAR(double(count[size_t(t)]) / n, want, 0.01) << "token " << t;
  }
}

TEST(Logprob, MatchesTheFrequencyOfDraws) {
  expect_frequencies_of_logprobs([](const float* l, const SamplingParams& p,
                                    double u) { return choose_token(l, 4, p, u, -1); },
                                 5);
}

TEST(Rng, UniformAtIsTheKthDrawOfAFreshGenerator) {
  for (const uint64_t seed : {0ull, 7ull, 0xfedcba9876543210ull}) {
    Rng rng(seed);
    for (uint64_t k = 0; k < 100; ++k) EXPECT_EQ(Rng::uniform_at(seed, k), rng.uniform()) << k;
  }
}

// sample_row against the sorting reference on rows of every kind (sample_cases.h), each row drawn
// at many uniforms. The two sum their masses differently (integers of 40 fraction bits against
// doubles), so a uniform within ~1e-7 of a boundary could split them: none does here.
TEST(SampleRow, ChoosesWhatTheSortingReferenceChooses) {
  int sampled = 0, differ_from_argmax = 0;
  for (const int64_t vocab : {5, 1000, 151936}) {
    const test::SampleCase c = test::sample_case(vocab, 40, uint32_t(vocab) + 1);
    const int n_u = vocab > 1000 ? 2 : 25;
    Rng rng{uint64_t(vocab)};
    for (size_t r = 0; r < c.draws.size(); ++r) {
      RowDraw d = c.draws[r];
      const SamplingParams p{d.temperature, d.top_k, d.top_p, 0};
      for (int k = 0; k < n_u; ++k) {
        d.u = k == 0 ? 0.0 : rng.uniform();
        const int32_t want = choose_token(c.row(r), vocab, p, d.u, d.banned);
        const int32_t got = sample_row(c.row(r), vocab, d);
        ASSERT_EQ(got, want) << "vocab " << vocab << " row " << r << " u " << d.u;
        sampled += d.temperature > 0;
        differ_from_argmax += got != row_argmax(c.row(r), vocab, d.banned);
      }
    }
  }
  EXPECT_GT(sampled, 500);
  EXPECT_GT(differ_from_argmax, 200) << "the draws must go beyond the argmax";
}

TEST(SampleRow, EdgesOfTheRule) {
  const std::vector<float> l = {2.0f, 5.0f, 5.0f, 1.0f, -INFINITY};
  const auto draw = [&](double t, int64_t k, double p, int64_t banned, double u) {
    return sample_row(l.data(), 5, RowDraw{t, k, p, banned, u});
  };
  EXPECT_EQ(draw(0.0, 0, 1.0, -1, 0.99), 1) << "greedy: the first of the largest";
  EXPECT_EQ(draw(0.0, 0, 1.0, 1, 0.99), 2) << "greedy skips the banned id";
  EXPECT_EQ(draw(1.0, 0, 1.0, -1, 0.0), 1) << "u = 0: the first candidate in the order";
  EXPECT_EQ(draw(1.0, 1, 1.0, -1, 0.999), 2) << "top-k 1 keeps ties of the first: ids 1 and 2";
  EXPECT_EQ(draw(1.0, 1, 1.0, 2, 0.999), 1) << "with id 2 banned only id 1 is left";
  EXPECT_EQ(draw(1.0, 0, 0.01, -1, 0.999), 1) << "top-p 0.01 keeps the first only";
  EXPECT_EQ(draw(1.0, 0, 1.0, -1, 1.0 - 1e-16), 3) << "never the -inf logit (mass 0)";
  EXPECT_EQ(draw(0.05, 0, 1.0, 1, 0.7), 2) << "a low temperature leaves the banned id's twin";
  const std::vector<float> nan_first = {NAN, 1.0f, 3.0f};
  EXPECT_EQ(row_argmax(nan_first.data(), 3, -1), 2) << "greedy never takes a NaN";
  const std::vector<float> nan_row = {NAN, NAN};
  EXPECT_EQ(row_argmax(nan_row.data(), 2, 0), 1) << "no candidate: the first id not banned";
  EXPECT_EQ(sample_row(nan_row.data(), 2, RowDraw{1.0, 0, 1.0, -1, 0.5}), 0)
      << "no candidate: row_argmax";
}

TEST(SampleRow, DrawsAtTheFrequencyOfItsLogprob) {
  expect_frequencies_of_logprobs([](const float* l, const SamplingParams& p,
                                    double u) { return sample_row(l, 4, row_draw(p, -1, u)); },
                                 11);
}

}  // namespace
}  // namespace wedlm
