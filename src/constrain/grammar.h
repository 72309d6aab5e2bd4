// What a constrained reply may be: a small grammar over bytes, built from a JSON Schema
// (json_schema.h) or from the tools of a request (tool_grammar.h), matched byte by byte by
// matcher.h. Nodes are JSON values of a schema (object, array, string, integer, number, literal,
// anyOf, any JSON) and two plain ones for the text around them (a sequence, a repetition).
// Output is JSON as Python's json.dumps writes it (", " and ": " between items, no other
// whitespace), properties in the schema's order, so a reply whose values are bounded always ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wedlm::constrain {

enum class NodeKind : uint8_t {
  kObject,   // props in order (required ones never skipped); any_keys: any object
  kArray,    // children[0] the items; min_items..max_items
  kString,   // min_len..max_len characters (code points)
  kInteger,  // within [lo, hi] when given
  kNumber,   // within [lo, hi] when given; no exponent
  kLiteral,  // exactly `text` (a JSON value's compact text, or plain text around values)
  kAnyOf,    // one of children
  kAnyJson,  // any JSON value
  kSeq,      // children one after another
  kRepeat,   // children[0] min_items..max_items times, children[1] (if any) between them
};

struct Property {
  int32_t key = -1;    // a kLiteral node: "\"name\": "
  int32_t value = -1;  // the value's node
  bool required = false;
};

struct Node {
  NodeKind kind = NodeKind::kAnyJson;
  std::vector<int32_t> children;
  std::vector<Property> props;
  bool any_keys = false;                  // kObject: any keys, any values
  int64_t min_items = 0, max_items = -1;  // kArray, kRepeat (-1: no limit)
  int64_t min_len = 0, max_len = -1;      // kString (-1: no limit)
  std::optional<double> lo, hi;           // kInteger, kNumber: inclusive bounds
  std::string text;                       // kLiteral
};

// Nodes refer to each other by index; `root` is what a whole reply matches. The constructor makes
// the nodes of any JSON value (`any_value`, an anyOf of an object of any keys, an array of any
// items, a string, a number, true, false, null), which kAnyJson nodes stand for.
struct Grammar {
  Grammar();
  std::vector<Node> nodes;
  int32_t root = -1;
  int32_t any_value = -1, any_string = -1;

  int32_t add(Node n);
  int32_t literal(std::string text);
  int32_t seq(std::vector<int32_t> parts);
  int32_t any_of(std::vector<int32_t> alternatives);
  const Node& operator[](int32_t i) const { return nodes[size_t(i)]; }
};

}  // namespace wedlm::constrain
