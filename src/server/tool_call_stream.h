// Tool calls streamed as they are decoded, the way OpenAI and vLLM stream them: for each call a
// first delta with its index, id, type and name, then its arguments in pieces as their text
// arrives. Used where the calls are enforced by a grammar (tool_choice "required" or a named
// function: constrain/tool_grammar.h), so the text is known to be in the Qwen format:
//   <tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>[\n<tool_call>...]
// Text that leaves the format stops the deltas (ok() turns false); the caller then answers from
// the whole text, as for unenforced calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wedlm::server {

struct ToolCallDelta {
  int index = 0;
  bool first = false;  // carries id and name
  std::string id, name;
  std::string arguments;  // the next piece
};

class ToolCallStream {
 public:
  // The deltas that `text` (the reply's next text) completes.
  std::vector<ToolCallDelta> push(std::string_view text);
  bool ok() const { return ok_; }

 private:
  enum class State { kOpen, kName, kArgsKey, kArgs, kClose, kBetween };
  bool literal(char c, std::string_view lit);  // matches c as the next byte of `lit`
  void args(char c, std::vector<ToolCallDelta>& out);

  State state_ = State::kOpen;
  bool ok_ = true;
  size_t at_ = 0;  // bytes of the current literal matched
  int index_ = 0;
  std::string name_, id_;
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

}  // namespace wedlm::server
