// Chat templates rendered natively, chosen from the checkpoint's own `chat_template` text:
//   kQwen3  - Qwen3's template: first system message in front (or the tools preamble), <think>
//             blocks of assistant turns before the last user query stripped, the last turn's
//             reasoning kept, tool calls and tool responses, `enable_thinking=false` adds an empty
//             think block to the generation prompt;
//   kQwen25 - Qwen2.5's template: a default system prompt when the conversation has none (taken
//             from the template text), tool calls and responses, no think handling;
//   kChatML - <|im_start|>{role}\n{content}<|im_end|>\n per message, with the default system
//             prompt of a Qwen2-style template when it has one; no tools.
// An unrecognised template falls back to ChatML and says so (`note`), never silently.
// Encoding inserts the template's markers as their ids and encodes message content (and tool
// definitions and calls) with special tokens off, so a user cannot inject control tokens;
// otherwise the ids equal HF's tokenization of the rendered text. `tojson` prints like Python's
// json.dumps (transformers' filter): ", " and ": " separators, non-ASCII as is, floats as Python
// writes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace wedlm {

struct ToolCall {
  std::string name;
  nlohmann::ordered_json arguments;  // an object, or a string of JSON (Qwen3 inserts it as is)
};

struct ChatMessage {
  std::string role;     // system | user | assistant | tool
  std::string content;  // "" for none
  std::optional<std::string> reasoning_content =
      std::nullopt;                       // Qwen3: used instead of splitting <think>
  std::vector<ToolCall> tool_calls = {};  // assistant messages
};

enum class ChatTemplateKind { kChatML, kQwen25, kQwen3 };

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<nlohmann::ordered_json> tools = {};  // function definitions, printed with tojson
  bool add_generation_prompt = true;
  std::optional<bool> enable_thinking = std::nullopt;  // unset = the template's default
};

struct RenderedChat {
  std::string text;    // what the Jinja template would output
  ByteRanges content;  // byte ranges of message content, tools and calls in `text`
};

class ChatTemplate {
 public:
  // From the template text of tokenizer_config.json ("" when absent).
  static ChatTemplate recognize(const std::string& template_text);
  // From DIR/tokenizer_config.json; a missing file or template gives ChatML with a note.
  static ChatTemplate load(const std::string& model_dir);

  ChatTemplateKind kind() const { return kind_; }
  const std::string& note() const { return note_; }                      // "" when recognised
  const std::string& default_system() const { return default_system_; }  // "" for none
  bool supports_tools() const { return kind_ != ChatTemplateKind::kChatML; }
  Result<RenderedChat> render(const ChatRequest& req) const;
  Result<std::vector<int32_t>> encode(const Tokenizer& tok, const ChatRequest& req) const;

 private:
  ChatTemplateKind kind_ = ChatTemplateKind::kChatML;
  std::string default_system_;
  std::string note_;
};

// Jinja's `tojson` as transformers defines it (Python json.dumps, ensure_ascii off).
std::string to_json_python(const nlohmann::ordered_json& value);

}  // namespace wedlm
