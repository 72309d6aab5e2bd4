#include "constrain/grammar.h"

#include "core/check.h"

namespace wedlm::constrain {

Grammar::Grammar() {
  Node any;  // kAnyJson: refers to any_value, which is made below
  const int32_t any_json = add(any);
  Node obj;
  obj.kind = NodeKind::kObject;
  obj.any_keys = true;
  Node arr;
  arr.kind = NodeKind::kArray;
  arr.children = {any_json};
  Node str;
  str.kind = NodeKind::kString;
  any_string = add(str);
  Node num;
  num.kind = NodeKind::kNumber;
  any_value = any_of({add(obj), add(arr), any_string, add(num), literal("true"), literal("false"),
                      literal("null")});
}

int32_t Grammar::add(Node n) {
  nodes.push_back(std::move(n));
  return int32_t(nodes.size() - 1);
}

int32_t Grammar::literal(std::string text) {
  WEDLM_CHECK(!text.empty(), "a grammar literal is never empty");
  Node n;
  n.kind = NodeKind::kLiteral;
  n.text = std::move(text);
  return add(std::move(n));
}

int32_t Grammar::seq(std::vector<int32_t> parts) {
  WEDLM_CHECK(!parts.empty(), "a grammar sequence is never empty");
  if (parts.size() == 1) return parts[0];
  Node n;
  n.kind = NodeKind::kSeq;
  n.children = std::move(parts);
  return add(std::move(n));
}

int32_t Grammar::any_of(std::vector<int32_t> alternatives) {
  WEDLM_CHECK(!alternatives.empty(), "anyOf needs an alternative");
  if (alternatives.size() == 1) return alternatives[0];
  Node n;
  n.kind = NodeKind::kAnyOf;
  n.children = std::move(alternatives);
  return add(std::move(n));
}

}  // namespace wedlm::constrain
