#include "tokenizer/chat_template.h"

#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include <fmt/core.h>

#include "core/regular_file.h"

namespace wedlm {
namespace {

using ordered_json = nlohmann::ordered_json;

// Builds the rendered text and remembers which bytes came from the caller's data.
struct Writer {
  RenderedChat out;
  void tmpl(const std::string& s) { out.text += s; }
  void content(const std::string& s) {
    if (!s.empty()) out.content.emplace_back(out.text.size(), out.text.size() + s.size());
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
void split_think(const ChatMessage& m, std::string& content, std::string& reasoning) {
  content = m.content;
  reasoning = m.reasoning_content.value_or("");
  if (m.reasoning_content) return;
  const std::string& c = m.content;
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

const char* const kToolsIntro =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const char* const kToolsOutro =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

// `system`: the system text in front of the tools preamble, followed by a blank line even when
// empty (both templates write `content + '\n\n'`); none: no system message (Qwen3).
void tools_block(const ChatRequest& r, const std::optional<std::string>& system, Writer& w) {
  w.tmpl("<|im_start|>system\n");
  if (system) {
    w.content(*system);
    w.tmpl("\n\n");
  }
  w.tmpl(kToolsIntro);
  for (const ordered_json& tool : r.tools) {
    w.tmpl("\n");
    w.content(to_json_python(tool));
  }
  w.tmpl(kToolsOutro);
}

// `raw_strings`: Qwen3 prints string arguments as they are; Qwen2.5 passes them through tojson.
void tool_call(const ToolCall& tc, bool raw_strings, Writer& w) {
  w.tmpl("<tool_call>\n{\"name\": \"");
  w.content(tc.name);
  w.tmpl("\", \"arguments\": ");
  w.content(raw_strings && tc.arguments.is_string() ? tc.arguments.get<std::string>()
                                                    : to_json_python(tc.arguments));
  w.tmpl("}\n</tool_call>");
}

// Consecutive tool messages share one user turn.
void tool_message(const std::vector<ChatMessage>& m, size_t i, Writer& w) {
  if (i == 0 || m[i - 1].role != "tool") w.tmpl("<|im_start|>user");
  w.tmpl("\n<tool_response>\n");
  w.content(m[i].content);
  w.tmpl("\n</tool_response>");
  if (i + 1 == m.size() || m[i + 1].role != "tool") w.tmpl("<|im_end|>\n");
}

void plain_message(const ChatMessage& m, Writer& w) {
  w.tmpl("<|im_start|>" + m.role + "\n");
  w.content(m.content);
  w.tmpl("<|im_end|>\n");
}

size_t last_query_index(const std::vector<ChatMessage>& m) {
  for (size_t i = m.size(); i-- > 0;)
    if (m[i].role == "user" && !is_tool_response(m[i].content)) return i;
  return m.empty() ? 0 : m.size() - 1;
}

void qwen3_assistant(const ChatRequest& r, size_t i, size_t last_query, Writer& w) {
  const ChatMessage& m = r.messages[i];
  std::string content, reasoning;
  split_think(m, content, reasoning);
  w.tmpl("<|im_start|>assistant\n");
  if (i > last_query && (i + 1 == r.messages.size() || !reasoning.empty())) {
    w.tmpl("<think>\n");
    w.content(rstrip_nl(lstrip_nl(reasoning)));
    w.tmpl("\n</think>\n\n");
    w.content(lstrip_nl(content));
  } else {
    w.content(content);
  }
  for (size_t k = 0; k < m.tool_calls.size(); ++k) {
    if (k > 0 || !content.empty()) w.tmpl("\n");
    tool_call(m.tool_calls[k], true, w);
  }
  w.tmpl("<|im_end|>\n");
}

void render_qwen3(const ChatRequest& r, Writer& w) {
  const auto& m = r.messages;
  const bool first_system = !m.empty() && m[0].role == "system";
  if (!r.tools.empty())
    tools_block(r, first_system ? std::optional<std::string>(m[0].content) : std::nullopt, w);
  else if (first_system)
    plain_message(m[0], w);
  const size_t last_query = last_query_index(m);
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i].role == "user" || (m[i].role == "system" && i > 0))
      plain_message(m[i], w);
    else if (m[i].role == "assistant")
      qwen3_assistant(r, i, last_query, w);
    else if (m[i].role == "tool")
      tool_message(m, i, w);
  }
  if (r.add_generation_prompt) {
    w.tmpl("<|im_start|>assistant\n");
    if (r.enable_thinking == false) w.tmpl("<think>\n\n</think>\n\n");
  }
}

void render_qwen25(const ChatRequest& r, const std::string& default_system, Writer& w) {
  const auto& m = r.messages;
  const bool first_system = !m.empty() && m[0].role == "system";
  const std::string& system = first_system ? m[0].content : default_system;
  if (!r.tools.empty())
    tools_block(r, system, w);
  else
    plain_message({"system", system, {}, {}}, w);
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i > 0) ||
        (msg.role == "assistant" && msg.tool_calls.empty())) {
      plain_message(msg, w);
    } else if (msg.role == "assistant") {
      w.tmpl("<|im_start|>assistant");
      if (!msg.content.empty()) w.tmpl("\n"), w.content(msg.content);
      for (const ToolCall& tc : msg.tool_calls) w.tmpl("\n"), tool_call(tc, false, w);
      w.tmpl("<|im_end|>\n");
    } else if (msg.role == "tool") {
      tool_message(m, i, w);
    }
  }
  if (r.add_generation_prompt) w.tmpl("<|im_start|>assistant\n");
}

void render_chatml(const ChatRequest& r, const std::string& default_system, Writer& w) {
  if (!default_system.empty() && (r.messages.empty() || r.messages[0].role != "system"))
    plain_message({"system", default_system, {}, {}}, w);
  for (const ChatMessage& msg : r.messages) plain_message(msg, w);
  if (r.add_generation_prompt) w.tmpl("<|im_start|>assistant\n");
}

// The literal default system prompt of a Qwen2/Qwen2.5 template:
// '<|im_start|>system\nYou are ...<|im_end|>\n' written as a Jinja string.
std::string default_system_of(const std::string& t) {
  static const std::regex re(R"(<\|im_start\|>system\\n([^'"{}<\\]+)<\|im_end\|>)");
  std::smatch m;
  return std::regex_search(t, m, re) ? m[1].str() : "";
}

bool has(const std::string& t, const char* s) { return t.find(s) != std::string::npos; }

Status check_message(const ChatMessage& m, ChatTemplateKind kind) {
  const bool known = m.role == "system" || m.role == "user" || m.role == "assistant" ||
                     (m.role == "tool" && kind != ChatTemplateKind::kChatML);
  if (!known)
    return Status(ErrorKind::kInvalidArgument,
                  fmt::format("message role '{}' is not supported by this chat template "
                              "(system, user, assistant{})",
                              m.role, kind == ChatTemplateKind::kChatML ? "" : ", tool"));
  if (!m.tool_calls.empty() && (m.role != "assistant" || kind == ChatTemplateKind::kChatML))
    return Status(
        ErrorKind::kInvalidArgument,
        fmt::format("tool_calls in a '{}' message are not supported by this chat template",
                    m.role));
  return Status::ok();
}

}  // namespace

std::string to_json_python(const ordered_json& j) {
  const auto scalar = [](const ordered_json& v) {
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  std::string out;
  if (j.is_object()) {
    out += "{";
    for (auto it = j.begin(); it != j.end(); ++it)
      out += (it == j.begin() ? "" : ", ") + scalar(ordered_json(it.key())) + ": " +
             to_json_python(it.value());
    return out + "}";
  }
  if (j.is_array()) {
    out += "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + to_json_python(j[i]);
    return out + "]";
  }
  return scalar(j);
}

ChatTemplate ChatTemplate::recognize(const std::string& t) {
  ChatTemplate ct;
  const bool chatml = has(t, "<|im_start|>");
  if (chatml && has(t, "</think>") && has(t, "last_query_index")) {
    ct.kind_ = ChatTemplateKind::kQwen3;
  } else if (chatml && has(t, "<tool_call>") && has(t, "<tool_response>") &&
             has(t, "tool_call.arguments | tojson")) {
    ct.kind_ = ChatTemplateKind::kQwen25;
    ct.default_system_ = default_system_of(t);
  } else if (chatml && !has(t, "tools") && !has(t, "<think>")) {
    ct.default_system_ = default_system_of(t);  // Qwen2: ChatML with a default system prompt
  } else {
    ct.note_ = t.empty() ? "no chat_template in tokenizer_config.json; using ChatML"
                         : "chat_template not recognised; rendering plain ChatML instead";
  }
  return ct;
}

ChatTemplate ChatTemplate::load(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer_config.json";
  std::ifstream in;  // not a FIFO (it would block) nor anything but a file: as if absent
  if (check_regular_file(path).is_ok()) in.open(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  const bool found =
      !j.is_discarded() && j.contains("chat_template") && j["chat_template"].is_string();
  return recognize(found ? j["chat_template"].get<std::string>() : "");
}

Result<RenderedChat> ChatTemplate::render(const ChatRequest& req) const {
  for (const ChatMessage& m : req.messages) WEDLM_RETURN_IF_ERROR(check_message(m, kind_));
  if (!req.tools.empty() && !supports_tools())
    return Status(ErrorKind::kInvalidArgument, "this model's chat template does not support tools");
  Writer w;
  if (kind_ == ChatTemplateKind::kQwen3)
    render_qwen3(req, w);
  else if (kind_ == ChatTemplateKind::kQwen25)
    render_qwen25(req, default_system_, w);
  else
    render_chatml(req, default_system_, w);
  return w.out;
}

Result<std::vector<int32_t>> ChatTemplate::encode(const Tokenizer& tok,
                                                  const ChatRequest& req) const {
  auto r = render(req);
  if (!r.is_ok()) return r.status();
  return tok.encode_protected(r.value().text, r.value().content);
}

}  // namespace wedlm
