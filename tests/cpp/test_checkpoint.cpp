#include <filesystem>

#include <gtest/gtest.h>

#include "io/weights.h"
#include "test_util.h"

namespace wedlm {
namespace {

using test::RawTensor;

// A tiny Qwen2-family checkpoint (q/k/v biases, no QK norm, head_dim derived, tied embeddings).
const char* kTinyQwen2 = R"({"model_type": "qwen2", "vocab_size": 64, "hidden_size": 16,
  "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "tie_word_embeddings": true, "eos_token_id": 3})";

std::vector<RawTensor> tiny_qwen2_tensors() {
  std::vector<RawTensor> ts = {{"model.embed_tokens.weight", "BF16", {64, 16}, {}},
                               {"model.norm.weight", "F32", {16}, {}}};
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (auto [n, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"input_layernorm.weight", {16}}, {"post_attention_layernorm.weight", {16}},
             {"self_attn.q_proj.weight", {16, 16}}, {"self_attn.q_proj.bias", {16}},
             {"self_attn.k_proj.weight", {8, 16}}, {"self_attn.k_proj.bias", {8}},
             {"self_attn.v_proj.weight", {8, 16}}, {"self_attn.v_proj.bias", {8}},
             {"self_attn.o_proj.weight", {16, 16}}, {"mlp.gate_proj.weight", {24, 16}},
             {"mlp.up_proj.weight", {24, 16}}, {"mlp.down_proj.weight", {16, 24}}})
      ts.push_back({p + n, "F16", shape, {}});
  }
  return ts;
}

// Writes the checkpoint as two shards and an index; returns the directory.
std::string write_sharded(std::vector<RawTensor> ts) {
  const std::string dir = test::temp_dir();
  test::write_text(dir + "/config.json", kTinyQwen2);
  const size_t half = ts.size() / 2;
  std::vector<RawTensor> a(ts.begin(), ts.begin() + half), b(ts.begin() + half, ts.end());
  test::write_file(dir + "/model-00001-of-00002.safetensors", test::safetensors_image(a));
  test::write_file(dir + "/model-00002-of-00002.safetensors", test::safetensors_image(b));
  std::string map;
  for (size_t i = 0; i < ts.size(); ++i)
    map += (i ? ", \"" : "\"") + ts[i].name + "\": \"model-0000" + (i < half ? "1" : "2") +
           "-of-00002.safetensors\"";
  test::write_text(dir + "/model.safetensors.index.json", "{\"weight_map\": {" + map + "}}");
  return dir;
}

Status open_error(const std::string& dir) { return Checkpoint::open(dir).status(); }

TEST(Checkpoint, BundledModelBindsEveryTensor) {
  auto ck = Checkpoint::open(test::source_dir() + "/models/wedlm-tiny");
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  const ModelConfig& c = ck.value()->config();
  EXPECT_EQ(c.model_type, "wedlm");
  EXPECT_EQ(c.n_layer, 8);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.mask_token_id, 2013);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2012, 2010}));  // config + generation_config
  const ModelWeights& w = ck.value()->weights();
  ASSERT_EQ(w.layers.size(), 8u);
  EXPECT_NE(w.lm_head, w.embed);
  EXPECT_EQ(w.layers[7].q_norm->shape_str(), "[64]");
  EXPECT_EQ(w.layers[0].q_bias, nullptr);
  EXPECT_EQ(w.embed->dtype, DType::kBF16);
}

TEST(Checkpoint, SharedFixtureQwen3) {
  const std::string dir = test::shared_dir() + "/fixtures/tiny-qwen3";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " absent: external fixture skipped";
  auto ck = Checkpoint::open(dir);
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  EXPECT_EQ(ck.value()->config().head_dim, 16);
  EXPECT_EQ(ck.value()->weights().lm_head->shape_str(), "[151936, 32]");
}

TEST(Checkpoint, ShardedQwen2WithBiasesAndTiedEmbeddings) {
  auto ck = Checkpoint::open(write_sharded(tiny_qwen2_tensors()));
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  const ModelWeights& w = ck.value()->weights();
  EXPECT_EQ(ck.value()->config().head_dim, 4);
  EXPECT_EQ(w.lm_head, w.embed);
  EXPECT_NE(w.layers[1].v_bias, nullptr);
  EXPECT_EQ(w.layers[1].q_norm, nullptr);
}

TEST(Checkpoint, MissingExtraMisshapenAndDuplicateTensors) {
  auto ts = tiny_qwen2_tensors();
  auto missing = ts;
  missing.erase(missing.begin() + 5);
  EXPECT_NE(open_error(write_sharded(missing)).message().find("missing tensor '" + ts[5].name),
            std::string::npos);
  auto extra = ts;
  extra.push_back({"model.layers.0.self_attn.q_norm.weight", "F32", {4}, {}});
  EXPECT_NE(open_error(write_sharded(extra)).message().find("unexpected tensor"),
            std::string::npos);
  auto wrong = ts;
  wrong[3].shape = {17, 16};
  const Status s = open_error(write_sharded(wrong));
  EXPECT_NE(s.message().find("'" + ts[3].name + "' has shape [17, 16], expected"),
            std::string::npos) << s.to_string();
  auto dup = ts;
  dup.push_back(ts[0]);  // lands in the second shard too
  EXPECT_NE(open_error(write_sharded(dup)).message().find("is in both"), std::string::npos);
}

TEST(Checkpoint, MissingFilesAreNamed) {
  const std::string dir = write_sharded(tiny_qwen2_tensors());
  std::filesystem::remove(dir + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(open_error(dir).kind(), ErrorKind::kNotFound);
  EXPECT_NE(open_error(dir).message().find("model-00002-of-00002.safetensors"),
            std::string::npos);
  const std::string empty = test::temp_dir();
  test::write_text(empty + "/config.json", kTinyQwen2);
  EXPECT_NE(open_error(empty).message().find("no model.safetensors"), std::string::npos);
  EXPECT_NE(open_error(test::temp_dir()).message().find("config.json"), std::string::npos);
}

}  // namespace
}  // namespace wedlm
