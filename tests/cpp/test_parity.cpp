// The C++ engine against traces it did not produce: the project's float64 reference on tiny random
// checkpoints of both families (tests/data/fixtures, reference/make_fixtures.py) and Hugging Face
// transformers on ../shared/fixtures (skipped when that folder is absent). Exact AR outputs, exact
// WeDLM traces (every commit and fill), next-token logprobs within 1e-4.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "decode/generate.h"
#include "io/weights.h"
#include "model/model.h"
#include "parity_fixture.h"
#include "test_util.h"

namespace wedlm {
namespace {

using nlohmann::json;

void check_logprobs(Model& model, const json& fx) {
  for (const json& c : fx["logprobs"]) {
    const std::vector<int32_t> ids = c["ids"];
    CpuForward seq(model, kv_blocks_for(int64_t(ids.size()), 4), 4);
    const std::vector<double> lp = test::next_token_logprobs(seq, ids);
    for (size_t t = 0; t < lp.size(); ++t)
      EXPECT_NEAR(lp[t], c["next_logprob"][t].get<double>(), 1e-4) << "position " << t;
  }
}

void check_wedlm_trace(Model& model, const json& fx, const json& c) {
  const GenerateParams p = test::fixture_params(c, DecodeMode::kWeDLM);
  CpuForward seq(model, kv_blocks_for(512, 16), 16);
  const std::vector<int32_t> prompt = c["prompt"];
  const GenerateResult r =
      generate(seq, test::fixture_facts(fx, model.config()), prompt, p).value();
  EXPECT_EQ(r.output, c["output"].get<std::vector<int32_t>>());
  EXPECT_EQ(r.forwards, c["forwards"].get<int64_t>());
  ASSERT_EQ(r.steps.size(), c["steps"].size());
  for (size_t k = 0; k < r.steps.size(); ++k) {
    EXPECT_EQ(r.steps[k].commit, c["steps"][k]["commit"].get<int64_t>()) << "step " << k;
    EXPECT_EQ(r.steps[k].fill, test::fixture_fill(c["steps"][k])) << "step " << k;
  }
}

void check_fixture(const std::string& model_dir, const std::string& fixture_path) {
  SCOPED_TRACE(fixture_path);
  const json fx = json::parse(std::ifstream(fixture_path));
  auto ck = Checkpoint::open(model_dir);
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  auto ops = make_cpu_ops();
  Model model(*ck.value(), *ops);
  check_logprobs(model, fx);
  for (const json& c : fx["ar"]) {
    const GenerateParams p = test::fixture_params(c, DecodeMode::kAR);
    CpuForward seq(model, kv_blocks_for(512, 16), 16);
    const std::vector<int32_t> prompt = c["prompt"];
    EXPECT_EQ(generate(seq, test::fixture_facts(fx, model.config()), prompt, p).value().output,
              c["output"].get<std::vector<int32_t>>());
  }
  for (const json& c : fx["wedlm"]) check_wedlm_trace(model, fx, c);
}

TEST(Parity, ProjectReferenceFixturesBothFamilies) {
  const std::string dir = test::source_dir() + "/tests/data/fixtures";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") {
      check_fixture(dir + "/" + e.path().stem().string(), e.path().string());
      ++n;
    }
  EXPECT_EQ(n, 4);
}

TEST(Parity, HuggingFaceTransformersFixtures) {
  const std::string dir = test::shared_dir() + "/fixtures";
  if (!std::filesystem::exists(dir + "/hf_golden_tiny_qwen3.json"))
    GTEST_SKIP() << dir << " absent: external parity skipped";
  check_fixture(dir + "/tiny-qwen3", dir + "/hf_golden_tiny_qwen3.json");
}

}  // namespace
}  // namespace wedlm
