// Chat templates rendered natively, chosen from the checkpoint's own `chat_template` text:
//   kQwen3  - Qwen3's template (no tools): first system message in front, <think> blocks of
//             assistant turns before the last user query stripped, the last turn's reasoning kept,
//             `enable_thinking=false` adds an empty think block to the generation prompt;
//   kChatML - <|im_start|>{role}\n{content}<|im_end|>\n per message.
// An unrecognised template falls back to ChatML and says so (`note`), never silently.
// Encoding inserts the template's markers as their ids and encodes message content with special
// tokens off, so a user cannot inject control tokens; otherwise the ids equal HF's tokenization
// of the rendered text. Tool messages and tool calls are not supported yet (a Status).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace wedlm {

struct ChatMessage {
  std::string role;     // system | user | assistant
  std::string content;
};

enum class ChatTemplateKind { kChatML, kQwen3 };

struct ChatRequest {
  std::vector<ChatMessage> messages;
  bool add_generation_prompt = true;
  std::optional<bool> enable_thinking;  // unset = the template's default
};

struct RenderedChat {
  std::string text;                               // what the Jinja template would output
  std::vector<std::pair<size_t, size_t>> content;  // byte ranges of message content in `text`
};

class ChatTemplate {
 public:
  // From the template text of tokenizer_config.json ("" when absent).
  static ChatTemplate recognize(const std::string& template_text);
  // From DIR/tokenizer_config.json; a missing file or template gives ChatML with a note.
  static ChatTemplate load(const std::string& model_dir);

  ChatTemplateKind kind() const { return kind_; }
  const std::string& note() const { return note_; }  // "" when recognised
  Result<RenderedChat> render(const ChatRequest& req) const;
  Result<std::vector<int32_t>> encode(const Tokenizer& tok, const ChatRequest& req) const;

 private:
  ChatTemplateKind kind_ = ChatTemplateKind::kChatML;
  std::string note_;
};

}  // namespace wedlm
