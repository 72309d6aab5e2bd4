#include "tokenizer/chat_template.h"

#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace wedlm {
namespace {

// Builds the rendered text and remembers which bytes came from message content.
struct Writer {
  RenderedChat out;
  void tmpl(const std::string& s) { out.text += s; }
  void content(const std::string& s) {
    out.content.emplace_back(out.text.size(), out.text.size() + s.size());
    out.text += s;
  }
};

std::string lstrip_nl(const std::string& s) {
  const size_t b = s.find_first_not_of('\n');
  return b == std::string::npos ? "" : s.substr(b);
}
std::string rstrip_nl(const std::string& s) {
  const size_t e = s.find_last_not_of('\n');
  return e == std::string::npos ? "" : s.substr(0, e + 1);
}

// Qwen3: the content after the last </think> and the reasoning before the first one.
void split_think(const std::string& c, std::string& content, std::string& reasoning) {
  content = c;
  reasoning.clear();
  const size_t close = c.find("</think>");
  if (close == std::string::npos) return;
  content = lstrip_nl(c.substr(c.rfind("</think>") + 8));
  std::string before = rstrip_nl(c.substr(0, close));
  const size_t open = before.rfind("<think>");
  reasoning = lstrip_nl(open == std::string::npos ? before : before.substr(open + 7));
}

bool is_tool_response(const std::string& s) {
  return s.rfind("<tool_response>", 0) == 0 && s.size() >= 16 &&
         s.compare(s.size() - 16, 16, "</tool_response>") == 0;
}

void render_qwen3(const ChatRequest& r, Writer& w) {
  const auto& m = r.messages;
  if (!m.empty() && m[0].role == "system") {
    w.tmpl("<|im_start|>system\n");
    w.content(m[0].content);
    w.tmpl("<|im_end|>\n");
  }
  size_t last_query = m.empty() ? 0 : m.size() - 1;
  for (size_t i = m.size(); i-- > 0;)
    if (m[i].role == "user" && !is_tool_response(m[i].content)) {
      last_query = i;
      break;
    }
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i].role == "user" || (m[i].role == "system" && i > 0)) {
      w.tmpl("<|im_start|>" + m[i].role + "\n");
      w.content(m[i].content);
      w.tmpl("<|im_end|>\n");
    } else if (m[i].role == "assistant") {
      std::string content, reasoning;
      split_think(m[i].content, content, reasoning);
      w.tmpl("<|im_start|>assistant\n");
      if (i > last_query && (i + 1 == m.size() || !reasoning.empty())) {
        w.tmpl("<think>\n");
        w.content(rstrip_nl(lstrip_nl(reasoning)));
        w.tmpl("\n</think>\n\n");
        w.content(lstrip_nl(content));
      } else {
        w.content(content);
      }
      w.tmpl("<|im_end|>\n");
    }
  }
  if (r.add_generation_prompt) {
    w.tmpl("<|im_start|>assistant\n");
    if (r.enable_thinking == false) w.tmpl("<think>\n\n</think>\n\n");
  }
}

void render_chatml(const ChatRequest& r, Writer& w) {
  for (const ChatMessage& msg : r.messages) {
    w.tmpl("<|im_start|>" + msg.role + "\n");
    w.content(msg.content);
    w.tmpl("<|im_end|>\n");
  }
  if (r.add_generation_prompt) w.tmpl("<|im_start|>assistant\n");
}

}  // namespace

ChatTemplate ChatTemplate::recognize(const std::string& t) {
  ChatTemplate ct;
  if (t.find("<|im_start|>") != std::string::npos && t.find("</think>") != std::string::npos &&
      t.find("last_query_index") != std::string::npos) {
    ct.kind_ = ChatTemplateKind::kQwen3;
  } else if (t.find("<|im_start|>") == std::string::npos ||
             t.find("You are Qwen") != std::string::npos || t.find("tools") != std::string::npos) {
    ct.note_ = t.empty() ? "no chat_template in tokenizer_config.json; using ChatML"
                         : "chat_template not recognised; rendering plain ChatML instead";
  }
  return ct;
}

ChatTemplate ChatTemplate::load(const std::string& model_dir) {
  std::ifstream in(model_dir + "/tokenizer_config.json", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  const bool has = !j.is_discarded() && j.contains("chat_template") && j["chat_template"].is_string();
  return recognize(has ? j["chat_template"].get<std::string>() : "");
}

Result<RenderedChat> ChatTemplate::render(const ChatRequest& req) const {
  for (const ChatMessage& m : req.messages)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("message role '{}' is not supported (system, user, assistant)",
                                m.role));
  Writer w;
  if (kind_ == ChatTemplateKind::kQwen3) render_qwen3(req, w);
  else render_chatml(req, w);
  return w.out;
}

Result<std::vector<int32_t>> ChatTemplate::encode(const Tokenizer& tok,
                                                  const ChatRequest& req) const {
  auto r = render(req);
  if (!r.is_ok()) return r.status();
  return tok.encode_protected(r.value().text, r.value().content);
}

}  // namespace wedlm
