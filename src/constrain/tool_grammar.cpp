#include "constrain/tool_grammar.h"

#include "constrain/json_schema.h"
#include "core/check.h"

namespace wedlm::constrain {

Result<Grammar> tool_call_grammar(const std::vector<ToolSchema>& tools, bool parallel,
                                  const std::vector<std::string>& where, bool opened) {
  WEDLM_CHECK(!tools.empty() && where.size() == tools.size(), "a tool grammar needs tools");
  Grammar g;
  std::vector<int32_t> bodies;  // "\n{"name": ..., "arguments": ...}\n</tool_call>"
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
    const std::string head =
        "\n{\"name\": " + nlohmann::ordered_json(tools[i].name).dump() + ", \"arguments\": ";
    bodies.push_back(g.seq({g.literal(head), args, g.literal("}\n</tool_call>")}));
  }
  const int32_t body = g.any_of(bodies);
  const int32_t call = g.seq({g.literal("<tool_call>"), body});
  Node more;  // the calls after the first: "\n" + a call, each
  more.kind = NodeKind::kRepeat;
  more.children = {g.seq({g.literal("\n"), call})};
  more.min_items = 0;
  more.max_items = parallel ? -1 : 0;
  const int32_t first = opened ? body : call;
  g.root = parallel ? g.seq({first, g.add(std::move(more))}) : first;
  return g;
}

}  // namespace wedlm::constrain
