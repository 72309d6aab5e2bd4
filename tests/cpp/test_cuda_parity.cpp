// The device forward decoding the parity fixtures (tests/data/fixtures: the float64 reference on
// tiny checkpoints of both families; ../shared/fixtures: Hugging Face transformers). bf16 on the
// device cannot match fp32/fp64 traces bit for bit, so this reports how far they agree (next-token
// logprob error; AR tokens and WeDLM steps before the first divergence) and asserts "most".
// Skipped without a CUDA device.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "decode/generate.h"
#include "io/weights.h"
#include "model/cuda_model.h"
#include "ops/cuda/cuda_device.h"
#include "parity_fixture.h"
#include "test_util.h"

namespace wedlm {
namespace {

using nlohmann::json;

struct Agreement {
  double max_logprob_error = 0;
  int64_t matched = 0, total = 0;  // AR tokens and WeDLM steps up to the first divergence
};

std::unique_ptr<CudaModel> on_device(const Checkpoint& ck) {
  return std::make_unique<CudaModel>(ck, 32, 16);  // 512 slots
}

void logprob_errors(const Checkpoint& ck, const json& fx, Agreement& a) {
  for (const json& c : fx["logprobs"]) {
    const auto seq = on_device(ck);
    const std::vector<int32_t> ids = c["ids"];
    const std::vector<double> lp = test::next_token_logprobs(*seq, ids);
    for (size_t t = 0; t < lp.size(); ++t)
      a.max_logprob_error =
          std::max(a.max_logprob_error, std::fabs(lp[t] - c["next_logprob"][t].get<double>()));
  }
}

void ar_agreement(const Checkpoint& ck, const json& fx, const json& c, Agreement& a) {
  const GenerateParams p = test::fixture_params(c, DecodeMode::kAR);
  const auto seq = on_device(ck);
  const std::vector<int32_t> prompt = c["prompt"], want = c["output"];
  const std::vector<int32_t> got =
      generate(*seq, test::fixture_facts(fx, ck.config()), prompt, p).value().output;
  size_t k = 0;
  while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
  a.matched += int64_t(k), a.total += int64_t(want.size());
}

void wedlm_agreement(const Checkpoint& ck, const json& fx, const json& c, Agreement& a) {
  const GenerateParams p = test::fixture_params(c, DecodeMode::kWeDLM);
  const auto seq = on_device(ck);
  const GenerateResult r = generate(*seq, test::fixture_facts(fx, ck.config()),
                                    c["prompt"].get<std::vector<int32_t>>(), p)
                               .value();
  size_t k = 0;
  for (; k < r.steps.size() && k < c["steps"].size(); ++k)
    if (r.steps[k].commit != c["steps"][k]["commit"].get<int64_t>() ||
        r.steps[k].fill != test::fixture_fill(c["steps"][k]))
      break;
  a.matched += int64_t(k), a.total += int64_t(c["steps"].size());
}

Agreement agreement(const std::string& model_dir, const std::string& fixture_path) {
  const json fx = json::parse(std::ifstream(fixture_path));
  auto ck = Checkpoint::open(model_dir);
  EXPECT_TRUE(ck.is_ok()) << ck.status().to_string();
  Agreement a;
  if (!ck.is_ok()) return a;
  logprob_errors(*ck.value(), fx, a);
  for (const json& c : fx["ar"]) ar_agreement(*ck.value(), fx, c, a);
  for (const json& c : fx["wedlm"]) wedlm_agreement(*ck.value(), fx, c, a);
  return a;
}

// bf16 rounds activations to 8 significant bits at every stage: next-token logprobs of these
// tiny random models (|logprob| ~ log vocab) move by a few hundredths; greedy paths agree until a
// near-tie flips, which should be rare: most of each trace is expected to match.
void report(const std::string& name, const Agreement& a) {
  const double rate = a.total ? double(a.matched) / double(a.total) : 0;
  std::printf(
      "[ cuda parity ] %s: max |logprob error| %.4f, %lld/%lld tokens and steps agree "
      "(%.1f%%)\n",
      name.c_str(), a.max_logprob_error, (long long)a.matched, (long long)a.total, 100 * rate);
  ::testing::Test::RecordProperty(name + "_agreement", std::to_string(rate));
  EXPECT_LT(a.max_logprob_error, 0.15) << name;
  EXPECT_GE(rate, 0.5) << name;
}

TEST(CudaParity, ProjectReferenceFixtures) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: device parity skipped";
  const std::string dir = test::source_dir() + "/tests/data/fixtures";
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json")
      report(e.path().stem().string(),
             agreement(dir + "/" + e.path().stem().string(), e.path().string()));
}

TEST(CudaParity, HuggingFaceTransformersFixtures) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: device parity skipped";
  const std::string dir = test::shared_dir() + "/fixtures";
  if (!std::filesystem::exists(dir + "/hf_golden_tiny_qwen3.json"))
    GTEST_SKIP() << dir << " absent: external parity skipped";
  report("hf_golden_tiny_qwen3",
         agreement(dir + "/tiny-qwen3", dir + "/hf_golden_tiny_qwen3.json"));
}

}  // namespace
}  // namespace wedlm
