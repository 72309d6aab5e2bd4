#include "constrain/json_schema.h"

#include <cmath>
#include <set>

#include <fmt/core.h>

namespace wedlm::constrain {
namespace {

using json = nlohmann::ordered_json;

Status bad(const std::string& where, const std::string& what) {
  return Status(ErrorKind::kInvalidArgument, where + ": " + what);
}

const std::set<std::string>& annotations() {
  static const std::set<std::string> k = {"title",    "description", "default",  "examples",
                                          "$schema",  "$id",         "$comment", "deprecated",
                                          "readOnly", "writeOnly",   "$defs",    "definitions"};
  return k;
}

class Compiler {
 public:
  Compiler(Grammar& g, const json& root) : g_(g), root_(root) {}
  Result<int32_t> node(const json& s, const std::string& where, int ref_depth);

 private:
  Status check_keywords(const json& s, const std::string& where) const;
  Result<int32_t> typed(const std::string& type, const json& s, const std::string& where,
                        int ref_depth);
  Result<int32_t> object(const json& s, const std::string& where, int ref_depth);
  Result<int32_t> array(const json& s, const std::string& where, int ref_depth);
  Result<int32_t> string(const json& s, const std::string& where);
  Result<int32_t> number(const json& s, const std::string& where, bool integer);
  Result<int32_t> ref(const json& s, const std::string& where, int ref_depth);
  Result<int32_t> any_of(const json& list, const std::string& where, int ref_depth);
  Result<int32_t> add(Node n);

  Grammar& g_;
  const json& root_;
};

Result<int32_t> Compiler::add(Node n) {
  if (g_.nodes.size() >= kMaxSchemaNodes)
    return Status(
        ErrorKind::kInvalidArgument,
        fmt::format("the schema is too large: it compiles to more than {} nodes", kMaxSchemaNodes));
  return g_.add(std::move(n));
}

Status Compiler::check_keywords(const json& s, const std::string& where) const {
  static const std::set<std::string> known = {"type",
                                              "enum",
                                              "const",
                                              "anyOf",
                                              "allOf",
                                              "$ref",
                                              "properties",
                                              "required",
                                              "additionalProperties",
                                              "items",
                                              "minItems",
                                              "maxItems",
                                              "minLength",
                                              "maxLength",
                                              "minimum",
                                              "maximum",
                                              "exclusiveMinimum",
                                              "exclusiveMaximum"};
  for (const auto& [k, v] : s.items())
    if (!known.count(k) && !annotations().count(k))
      return bad(where, fmt::format("'{}' is not supported in a constrained schema", k));
  if (s.contains("uniqueItems") && s["uniqueItems"] != false)
    return bad(where, "'uniqueItems' is not supported");
  return Status::ok();
}

Result<int32_t> Compiler::any_of(const json& list, const std::string& where, int ref_depth) {
  if (!list.is_array() || list.empty()) return bad(where, "must be a non-empty array of schemas");
  std::vector<int32_t> alts;
  for (size_t i = 0; i < list.size(); ++i) {
    auto n = node(list[i], fmt::format("{}[{}]", where, i), ref_depth);
    if (!n.is_ok()) return n.status();
    alts.push_back(n.value());
  }
  return g_.any_of(std::move(alts));
}

Result<int32_t> Compiler::ref(const json& s, const std::string& where, int ref_depth) {
  const json& r = s["$ref"];
  if (!r.is_string()) return bad(where + ".$ref", "must be a string");
  const std::string path = r.get<std::string>();
  if (ref_depth >= kMaxRefDepth)
    return bad(where + ".$ref", fmt::format("'{}' nests $ref more than {} deep (a recursive "
                                            "schema is not supported)",
                                            path, kMaxRefDepth));
  for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
    const std::string p = prefix;
    if (path.rfind(p, 0) != 0) continue;
    const std::string section = p.substr(2, p.size() - 3), name = path.substr(p.size());
    if (root_.contains(section) && root_[section].is_object() && root_[section].contains(name))
      return node(root_[section][name], where + ".$ref(" + path + ")", ref_depth + 1);
  }
  if (path == "#") return node(root_, where + ".$ref(#)", ref_depth + 1);
  return bad(where + ".$ref", fmt::format("'{}' does not resolve (only #, #/$defs/NAME and "
                                          "#/definitions/NAME are followed)",
                                          path));
}

Result<int32_t> Compiler::node(const json& s, const std::string& where, int ref_depth) {
  if (s.is_boolean()) {
    if (!s.get<bool>()) return bad(where, "the schema false allows no value");
    return add(Node{});
  }
  if (!s.is_object()) return bad(where, "a schema must be an object");
  WEDLM_RETURN_IF_ERROR(check_keywords(s, where));
  if (s.contains("$ref")) {
    if (s.size() > 1 + size_t(std::count_if(s.items().begin(), s.items().end(), [](auto kv) {
                     return annotations().count(kv.key()) > 0;
                   })))
      return bad(where, "'$ref' beside other keywords is not supported");
    return ref(s, where, ref_depth);
  }
  if (s.contains("const")) return g_.literal(s["const"].dump());
  if (s.contains("enum")) {
    const json& e = s["enum"];
    if (!e.is_array() || e.empty()) return bad(where + ".enum", "must be a non-empty array");
    std::vector<int32_t> alts;
    for (const json& v : e) alts.push_back(g_.literal(v.dump()));
    return g_.any_of(std::move(alts));
  }
  if (s.contains("anyOf")) return any_of(s["anyOf"], where + ".anyOf", ref_depth);
  if (s.contains("allOf")) {
    if (!s["allOf"].is_array() || s["allOf"].size() != 1)
      return bad(where + ".allOf", "only an allOf of one schema is supported");
    return node(s["allOf"][0], where + ".allOf[0]", ref_depth);
  }
  if (!s.contains("type")) {
    if (s.contains("properties") || s.contains("required")) return object(s, where, ref_depth);
    if (s.contains("items")) return array(s, where, ref_depth);
    return add(Node{});  // any JSON value
  }
  const json& t = s["type"];
  if (t.is_string()) return typed(t.get<std::string>(), s, where, ref_depth);
  if (!t.is_array() || t.empty()) return bad(where + ".type", "must be a type name or a list");
  std::vector<int32_t> alts;
  for (const json& name : t) {
    if (!name.is_string()) return bad(where + ".type", "lists type names only");
    auto n = typed(name.get<std::string>(), s, where, ref_depth);
    if (!n.is_ok()) return n.status();
    alts.push_back(n.value());
  }
  return g_.any_of(std::move(alts));
}

Result<int32_t> Compiler::typed(const std::string& type, const json& s, const std::string& where,
                                int ref_depth) {
  if (type == "object") return object(s, where, ref_depth);
  if (type == "array") return array(s, where, ref_depth);
  if (type == "string") return string(s, where);
  if (type == "integer" || type == "number") return number(s, where, type == "integer");
  if (type == "boolean") return g_.any_of({g_.literal("true"), g_.literal("false")});
  if (type == "null") return g_.literal("null");
  return bad(where + ".type", fmt::format("unknown type '{}'", type));
}

Result<int32_t> Compiler::object(const json& s, const std::string& where, int ref_depth) {
  Node n;
  n.kind = NodeKind::kObject;
  const json props = s.value("properties", json::object());
  if (!props.is_object()) return bad(where + ".properties", "must be an object");
  const json req = s.value("required", json::array());
  if (!req.is_array()) return bad(where + ".required", "must be an array of names");
  std::set<std::string> required;
  for (const json& r : req) {
    if (!r.is_string()) return bad(where + ".required", "must be an array of names");
    if (!props.contains(r.get<std::string>()))
      return bad(where + ".required",
                 fmt::format("'{}' is not in 'properties'", r.get<std::string>()));
    required.insert(r.get<std::string>());
  }
  const json extra = s.value("additionalProperties", json(true));
  if (!extra.is_boolean())
    return bad(where + ".additionalProperties", "only true or false is supported");
  if (props.empty() && extra == true) {  // any object
    n.any_keys = true;
    return add(std::move(n));
  }
  for (const auto& [key, value] : props.items()) {
    auto v = node(value, where + ".properties." + key, ref_depth);
    if (!v.is_ok()) return v.status();
    n.props.push_back(
        Property{g_.literal(json(key).dump() + ": "), v.value(), required.count(key) > 0});
  }
  return add(std::move(n));
}

Result<int32_t> Compiler::array(const json& s, const std::string& where, int ref_depth) {
  Node n;
  n.kind = NodeKind::kArray;
  auto items = s.contains("items") ? node(s["items"], where + ".items", ref_depth) : add(Node{});
  if (!items.is_ok()) return items.status();
  n.children = {items.value()};
  for (const char* k : {"minItems", "maxItems"})
    if (s.contains(k) && !(s[k].is_number_unsigned() || (s[k].is_number_integer() && s[k] >= 0)))
      return bad(where + "." + k, "must be a non-negative integer");
  n.min_items = s.value("minItems", int64_t(0));
  n.max_items = s.value("maxItems", int64_t(-1));
  if (n.max_items >= 0 && n.max_items < n.min_items)
    return bad(where + ".maxItems", "is less than minItems");
  return add(std::move(n));
}

Result<int32_t> Compiler::string(const json& s, const std::string& where) {
  Node n;
  n.kind = NodeKind::kString;
  for (const char* k : {"minLength", "maxLength"})
    if (s.contains(k) && !(s[k].is_number_integer() && s[k] >= 0))
      return bad(where + "." + k, "must be a non-negative integer");
  n.min_len = s.value("minLength", int64_t(0));
  n.max_len = s.value("maxLength", int64_t(-1));
  if (n.max_len >= 0 && n.max_len < n.min_len)
    return bad(where + ".maxLength", "is less than minLength");
  return add(std::move(n));
}

Result<int32_t> Compiler::number(const json& s, const std::string& where, bool integer) {
  Node n;
  n.kind = integer ? NodeKind::kInteger : NodeKind::kNumber;
  for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
    if (s.contains(k) && !s[k].is_number()) return bad(where + "." + k, "must be a number");
  if (!integer && (s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum")))
    return bad(where, "'exclusiveMinimum' and 'exclusiveMaximum' are supported for integers only");
  if (s.contains("minimum")) n.lo = s["minimum"].get<double>();
  if (s.contains("maximum")) n.hi = s["maximum"].get<double>();
  if (s.contains("exclusiveMinimum")) {
    const double x = std::floor(s["exclusiveMinimum"].get<double>()) + 1;
    n.lo = n.lo ? std::max(*n.lo, x) : x;
  }
  if (s.contains("exclusiveMaximum")) {
    const double x = std::ceil(s["exclusiveMaximum"].get<double>()) - 1;
    n.hi = n.hi ? std::min(*n.hi, x) : x;
  }
  if (integer) {
    if (n.lo) n.lo = std::ceil(*n.lo);
    if (n.hi) n.hi = std::floor(*n.hi);
  }
  if (n.lo && n.hi && *n.lo > *n.hi) return bad(where, "allows no number: minimum > maximum");
  if ((n.lo && std::fabs(*n.lo) > 1e15) || (n.hi && std::fabs(*n.hi) > 1e15))
    return bad(where, "bounds beyond 1e15 are not supported");
  return add(std::move(n));
}

}  // namespace

Result<int32_t> add_json_schema(Grammar& g, const json& schema, const std::string& where) {
  Compiler c(g, schema);
  return c.node(schema, where, 0);
}

Result<Grammar> compile_json_schema(const json& schema, const std::string& where) {
  Grammar g;
  auto root = add_json_schema(g, schema, where);
  if (!root.is_ok()) return root.status();
  g.root = root.value();
  return g;
}

Grammar any_object_grammar() {
  Grammar g;
  Node n;
  n.kind = NodeKind::kObject;
  n.any_keys = true;
  g.root = g.add(std::move(n));
  return g;
}

}  // namespace wedlm::constrain
