// The grammar of a reply that must call tools, in the format Qwen2.5 / Qwen3 chat templates teach
// (and server/tool_calls.h parses):
//   <tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>
// one call, or with `parallel` one or more separated by "\n"; NAME is one of the tools and ARGS a
// value of that tool's parameters schema (json_schema.h; no parameters: any object).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "constrain/grammar.h"
#include "core/status.h"

namespace wedlm::constrain {

struct ToolSchema {
  std::string name;
  nlohmann::ordered_json parameters;  // null: any object
};

// `where` names each tool's schema in messages: where[i].function.parameters. `opened`: the
// reply has just written "<tool_call>" (tool_choice auto: the grammar starts after that token),
// so the first call lacks it.
Result<Grammar> tool_call_grammar(const std::vector<ToolSchema>& tools, bool parallel,
                                  const std::vector<std::string>& where, bool opened = false);

}  // namespace wedlm::constrain
