#include <gtest/gtest.h>

#include "io/model_config.h"

namespace wedlm {
namespace {

const char* kQwen3 = R"({"model_type": "wedlm", "vocab_size": 151936, "hidden_size": 4096,
  "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
  "num_key_value_heads": 8, "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
  "max_position_embeddings": 16384, "tie_word_embeddings": false, "attention_bias": false,
  "qk_norm": true, "eos_token_id": 151645, "hidden_act": "silu", "rope_scaling": null})";

// A Qwen2.5-7B-shaped config: no head_dim, no qk_norm / attention_bias / mask_token_id fields.
const char* kQwen2 = R"({"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584,
  "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
  "num_key_value_heads": 4, "max_position_embeddings": 32768,
  "eos_token_id": [151645, 151643]})";

std::string with(const std::string& base, const std::string& key, const std::string& value) {
  const std::string k = "\"" + key + "\": ";
  const size_t at = base.find(k);
  if (at == std::string::npos) return "{" + k + value + ", " + base.substr(1);
  const size_t v = at + k.size();
  const size_t end = base[v] == '[' ? base.find(']', v) + 1 : base.find_first_of(",}", v);
  return base.substr(0, at) + k + value + base.substr(end);
}

Status parse_error(const std::string& text) {
  return parse_model_config("config.json", text).status();
}

TEST(ModelConfig, WeDLM8BShape) {
  auto c = parse_model_config("config.json", kQwen3);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c.value().family, ModelFamily::kWeDLM);
  EXPECT_EQ(c.value().head_dim, 128);
  EXPECT_TRUE(c.value().qk_norm);
  EXPECT_FALSE(c.value().attention_bias);
  EXPECT_EQ(c.value().mask_token_id, 151665);  // the default
  EXPECT_EQ(c.value().eos_token_ids, std::vector<int64_t>{151645});
}

TEST(ModelConfig, Qwen2FamilyDefaultsAndDerivedHeadDim) {
  auto c = parse_model_config("config.json", kQwen2);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c.value().head_dim, 128);  // 3584 / 28
  EXPECT_TRUE(c.value().attention_bias);
  EXPECT_FALSE(c.value().qk_norm);
  EXPECT_EQ(c.value().eos_token_ids, (std::vector<int64_t>{151645, 151643}));
}

TEST(ModelConfig, WeDLMWithoutVariantFieldsFollowsTheTencentRule) {
  std::string t = kQwen2;
  t = with(t, "model_type", "\"wedlm\"");
  auto c = parse_model_config("config.json", t);
  ASSERT_TRUE(c.is_ok());
  EXPECT_TRUE(c.value().attention_bias);  // absent -> true
  EXPECT_FALSE(c.value().qk_norm);        // QK norm iff no bias
}

TEST(ModelConfig, GenerationConfigEosIdsAreMergedWithoutDuplicates) {
  auto c = parse_model_config("config.json", kQwen3);
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(merge_generation_config("generation_config.json",
                                      R"({"eos_token_id": [151645, 151643]})", c.value())
                  .is_ok());
  EXPECT_EQ(c.value().eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  const Status bad =
      merge_generation_config("generation_config.json", R"({"eos_token_id": "x"})", c.value());
  EXPECT_NE(bad.message().find("generation_config.json: eos_token_id \"x\""), std::string::npos)
      << bad.to_string();
}

TEST(ModelConfig, BadValuesNameTheFieldAndValue) {
  struct Case {
    std::string key, value, needle;
  };
  const Case cases[] = {
      {"model_type", "\"llama\"", "model_type 'llama' is not supported"},
      {"hidden_size", "0", "'hidden_size' = 0 is out of range"},
      {"num_key_value_heads", "5", "not a multiple of num_key_value_heads 5"},
      {"head_dim", "127", "head_dim 127 must be even"},
      {"mask_token_id", "999999", "'mask_token_id' = 999999 is out of range"},
      {"rope_theta", "-1", "'rope_theta' = -1 is out of range"},
      {"tie_word_embeddings", "\"yes\"", "'tie_word_embeddings' must be true or false"},
      {"hidden_act", "\"gelu\"", "hidden_act \"gelu\" is not supported"},
      {"rope_scaling", "{\"type\": \"yarn\"}", "rope_scaling"},
      {"eos_token_id", "200000", "eos_token_id 200000 is not a token id"},
      {"num_hidden_layers", "2.5", "'num_hidden_layers' must be an integer"},
  };
  for (const Case& k : cases) {
    const Status s = parse_error(with(kQwen3, k.key, k.value));
    ASSERT_FALSE(s.is_ok()) << k.key;
    EXPECT_NE(s.message().find(k.needle), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find("config.json"), std::string::npos);
  }
  EXPECT_NE(parse_error("{\"model_type\": \"qwen3\"}").message().find("missing required field"),
            std::string::npos);
  // a value nested 100,000 deep overflowed the stack while the error message printed it
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_NE(parse_error(with(kQwen3, "num_hidden_layers", deep)).message().find("more than 100"),
            std::string::npos);
  // the context sizes the KV pool: never guessed (it was 4096 when missing)
  EXPECT_NE(parse_error(with(kQwen3, "max_position_embeddings", "null"))
                .message()
                .find("missing required field 'max_position_embeddings'"),
            std::string::npos);
  EXPECT_NE(parse_error("{not json").message().find("bad JSON"), std::string::npos);
}

TEST(ModelConfig, DerivedHeadDimMustDivide) {
  std::string t = with(kQwen2, "hidden_size", "3585");
  EXPECT_NE(parse_error(t).message().find("not divisible"), std::string::npos);
}

TEST(ModelConfig, QwenVocabWithoutTheMaskIdMeansNoMaskToken) {
  std::string t = with(kQwen2, "vocab_size", "1000");
  t = with(t, "eos_token_id", "2");
  auto c = parse_model_config("config.json", t);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c.value().mask_token_id, -1);
  EXPECT_FALSE(parse_model_config("config.json", with(t, "model_type", "\"wedlm\"")).is_ok());
}

}  // namespace
}  // namespace wedlm
