#include "constrain/tool_grammar.h"

#include "constrain/json_schema.h"
#include "core/check.h"

namespace wedlm::constrain {

Result<Grammar> tool_call_grammar(const std::vector<ToolSchema>& tools, bool parallel,
                                  const std::vector<std::string>& where) {
  WEDLM_CHECK(!tools.empty() && where.size() == tools.size(), "a tool grammar needs tools");
  Grammar g;
  std::vector<int32_t> calls;
  for (size_t i = 0; i < tools.size(); ++i) {
    int32_t args = -1;
    if (tools[i].parameters.is_null()) {
      Node any;
      any.kind = NodeKind::kObject;
      any.any_keys = true;
      args = g.add(std::move(any));
    } else {
      auto a = add_json_schema(g, tools[i].parameters, where[i]);
      if (!a.is_ok()) return a.status();
      args = a.value();
    }
    const std::string open = "<tool_call>\n{\"name\": " + nlohmann::ordered_json(tools[i].name).dump() +
                             ", \"arguments\": ";
    calls.push_back(g.seq({g.literal(open), args, g.literal("}\n</tool_call>")}));
  }
  Node rep;
  rep.kind = NodeKind::kRepeat;
  rep.children = {g.any_of(std::move(calls)), g.literal("\n")};
  rep.min_items = 1;
  rep.max_items = parallel ? -1 : 1;
  g.root = g.add(std::move(rep));
  return g;
}

}  // namespace wedlm::constrain
