#include <sys/stat.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/regular_file.h"
#include "io/random_weights.h"
#include "io/weights.h"
#include "test_util.h"

namespace wedlm {
namespace {

using test::RawTensor;

// A tiny Qwen2-family checkpoint (q/k/v biases, no QK norm, head_dim derived, tied embeddings).
const char* kTinyQwen2 = R"({"model_type": "qwen2", "vocab_size": 64, "hidden_size": 16,
  "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "tie_word_embeddings": true, "eos_token_id": 3,
  "max_position_embeddings": 64})";

std::vector<RawTensor> tiny_qwen2_tensors() {
  std::vector<RawTensor> ts = {{"model.embed_tokens.weight", "BF16", {64, 16}, {}},
                               {"model.norm.weight", "F32", {16}, {}}};
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (auto [n, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"input_layernorm.weight", {16}},
             {"post_attention_layernorm.weight", {16}},
             {"self_attn.q_proj.weight", {16, 16}},
             {"self_attn.q_proj.bias", {16}},
             {"self_attn.k_proj.weight", {8, 16}},
             {"self_attn.k_proj.bias", {8}},
             {"self_attn.v_proj.weight", {8, 16}},
             {"self_attn.v_proj.bias", {8}},
             {"self_attn.o_proj.weight", {16, 16}},
             {"mlp.gate_proj.weight", {24, 16}},
             {"mlp.up_proj.weight", {24, 16}},
             {"mlp.down_proj.weight", {16, 24}}})
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
            std::string::npos)
      << s.to_string();
  auto dup = ts;
  dup.push_back(ts[0]);  // lands in the second shard too
  EXPECT_NE(open_error(write_sharded(dup)).message().find("is in both"), std::string::npos);
}

TEST(Checkpoint, MissingFilesAreNamed) {
  const std::string dir = write_sharded(tiny_qwen2_tensors());
  std::filesystem::remove(dir + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(open_error(dir).kind(), ErrorKind::kNotFound);
  EXPECT_NE(open_error(dir).message().find("model-00002-of-00002.safetensors"), std::string::npos);
  const std::string empty = test::temp_dir();
  test::write_text(empty + "/config.json", kTinyQwen2);
  EXPECT_NE(open_error(empty).message().find("no model.safetensors"), std::string::npos);
  EXPECT_NE(open_error(test::temp_dir()).message().find("config.json"), std::string::npos);
}

// A FIFO (or a directory) where a model file should be is refused at once: opening a FIFO
// would block until a writer came (a `serve` that SIGTERM could not stop).
TEST(Checkpoint, FifosAndDirectoriesAreNotModelFiles) {
  const std::string dir = test::temp_dir();
  test::write_text(dir + "/config.json", kTinyQwen2);
  ASSERT_EQ(::mkfifo((dir + "/model.safetensors").c_str(), 0600), 0);
  EXPECT_NE(open_error(dir).message().find("not a regular file (a FIFO)"), std::string::npos)
      << open_error(dir).message();
  const std::string other = test::temp_dir();
  ASSERT_EQ(::mkfifo((other + "/config.json").c_str(), 0600), 0);
  EXPECT_NE(open_error(other).message().find("config.json: not a regular file (a FIFO)"),
            std::string::npos)
      << open_error(other).message();
  std::filesystem::create_directory(dir + "/tokenizer.json");
  EXPECT_NE(check_regular_file(dir + "/tokenizer.json").message().find("(a directory)"),
            std::string::npos);
}

ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = 96, c.hidden_size = 32, c.intermediate_size = 48, c.n_layer = 2;
  c.n_head = 4, c.n_kv_head = 2, c.head_dim = 8, c.qk_norm = true, c.max_position_embeddings = 64;
  return c;
}

std::vector<float> values(const TensorInfo* t) {
  std::vector<float> v(size_t(t->numel()));
  const auto* p = reinterpret_cast<const uint16_t*>(t->data);
  for (size_t i = 0; i < v.size(); ++i) v[i] = bf16_to_f32(p[i]);
  return v;
}

TEST(RandomCheckpoint, EveryTensorOfTheShapeSeededAndScaled) {
  const ModelConfig c = small_config();
  auto a = Checkpoint::random(c, 7);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  const ModelWeights& w = a.value()->weights();
  ASSERT_EQ(w.layers.size(), 2u);
  EXPECT_NE(w.lm_head, w.embed) << "untied";
  EXPECT_EQ(w.layers[1].down->shape, (std::vector<int64_t>{32, 48}));
  for (float x : values(w.layers[0].q_norm)) EXPECT_EQ(x, 1.0f);
  const std::vector<float> up = values(w.layers[1].up);  // [48, 32]: std 1/sqrt(32)
  double sum = 0, sq = 0;
  for (float x : up) sum += x, sq += double(x) * x;
  const double mean = sum / double(up.size()), sd = std::sqrt(sq / double(up.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sd, 1.0 / std::sqrt(32.0), 0.01);
  for (float x : up) EXPECT_LE(std::abs(x), std::sqrt(3.0 / 32.0) * 1.01);
  const std::vector<float> same = values(Checkpoint::random(c, 7).value()->weights().layers[1].up);
  const std::vector<float> other = values(Checkpoint::random(c, 8).value()->weights().layers[1].up);
  EXPECT_EQ(same, up) << "a seed gives the same weights";
  EXPECT_NE(other, up);
  EXPECT_NE(values(w.layers[0].up), up) << "each tensor draws its own values";
}

// release() drops a file checkpoint's pages from the process (they read back from the file,
// unchanged); random weights have no file behind them and must keep their values.
TEST(Checkpoint, ReleasedTensorsReadBackUnchanged) {
  auto file = Checkpoint::open(test::source_dir() + "/models/wedlm-tiny");
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  ModelConfig c = small_config();
  c.hidden_size = 256, c.intermediate_size = 512;  // up: 256 KB, many pages
  auto random = Checkpoint::random(c, 3);
  ASSERT_TRUE(random.is_ok()) << random.status().to_string();
  for (const Checkpoint* ck : {file.value().get(), random.value().get()}) {
    const TensorInfo* up = ck->weights().layers[0].up;
    ASSERT_GT(up->nbytes, size_t(16 * 4096));
    const std::vector<float> before = values(up);
    ck->release(up);
    EXPECT_EQ(values(up), before) << ck->dir();
  }
}

TEST(RandomCheckpoint, NamedShapesAreRealArchitectures) {
  const ModelConfig c = random_shape("qwen3-0.6b").value();
  EXPECT_EQ(c.n_layer, 28);
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.n_head * c.head_dim, 2048);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(random_shape("wedlm-8b").value().intermediate_size, 12288);
  const auto bad = random_shape("gpt-9");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("qwen3-8b"), std::string::npos) << "lists the known ones";
}

}  // namespace
}  // namespace wedlm
