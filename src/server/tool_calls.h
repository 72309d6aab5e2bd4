// Tool calls in a reply, as Qwen2.5 / Qwen3 chat templates teach the model to write them:
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Paris"}}
//   </tool_call>
// When the request offered tools, the reply's calls become OpenAI `tool_calls` (finish reason
// "tool_calls") and only the text before the first call stays content. A block that is not such
// a JSON object leaves the whole reply as text: nothing is dropped.
#pragma once

#include <string>
#include <vector>

namespace wedlm::server {

inline constexpr const char* kToolCallOpen = "<tool_call>";

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // a JSON text, as OpenAI sends it
};

struct ParsedReply {
  std::string content;                // the text before the first call (all of it without calls)
  std::vector<ParsedToolCall> calls;  // empty: no (valid) calls
};

ParsedReply parse_tool_calls(const std::string& text);

}  // namespace wedlm::server
