// Native chat templates against @huggingface/jinja renderings of the real templates
// (tests/data/chat_template_golden.json, made by tests/oracle/render_chat_templates.mjs), and the
// ids against tokenizing the rendered text with special tokens parsed, as HF does.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/chat_template.h"

namespace wedlm {
namespace {

using nlohmann::json;

ChatRequest request_of(const json& c) {
  ChatRequest r;
  for (const json& m : c["messages"]) r.messages.push_back({m["role"], m["content"]});
  r.add_generation_prompt = c["add_generation_prompt"];
  if (!c["enable_thinking"].is_null()) r.enable_thinking = c["enable_thinking"].get<bool>();
  return r;
}

bool content_has_markup(const ChatRequest& r) {
  for (const ChatMessage& m : r.messages)
    if (m.content.find('<') != std::string::npos) return true;
  return false;
}

void check(const std::string& name, const ChatTemplate& t, const Tokenizer& tok) {
  const json golden = json::parse(std::ifstream(test::source_dir() +
                                                "/tests/data/chat_template_golden.json"));
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
  EXPECT_EQ(n, 32);
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

TEST(ChatTemplate, UnknownTemplatesAndRolesAreReported) {
  EXPECT_NE(ChatTemplate::recognize("{{ messages }}").note(), "");
  EXPECT_NE(ChatTemplate::recognize("").note(), "");
  ChatRequest req;
  req.messages = {{"tool", "x"}};
  const auto r = ChatTemplate::recognize("").render(req);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("role 'tool'"), std::string::npos);
}

}  // namespace
}  // namespace wedlm
