#include "server/constraints.h"

#include <fmt/core.h>

#include "constrain/json_schema.h"
#include "constrain/tool_grammar.h"
#include "server/json_fields.h"

namespace wedlm::server {
namespace {

using json = nlohmann::ordered_json;

ConstraintResult failed(const std::string& param, const std::string& message) {
  return {nullptr, invalid_request(message, param)};
}

ConstraintResult compiled(GrammarCache* cache, const std::string& key,
                          const std::function<Result<constrain::Grammar>()>& build,
                          const std::string& param) {
  if (!cache) return failed(param, "this server cannot constrain replies (no tokenizer)");
  if (Constraint c = cache->find(key)) return {c, std::nullopt};
  auto g = build();
  if (!g.is_ok()) return failed(param, g.status().message());
  return {cache->add(key, std::move(g).value()), std::nullopt};
}

}  // namespace

Constraint GrammarCache::find(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

Constraint GrammarCache::add(const std::string& key, constrain::Grammar g) {
  auto c = std::make_shared<const constrain::TokenMasks>(
      std::make_shared<const constrain::Grammar>(std::move(g)), vocab_);
  std::lock_guard lock(mu_);
  if (const auto it = index_.find(key); it != index_.end()) return it->second->second;
  lru_.emplace_front(key, c);
  index_[key] = lru_.begin();
  if (lru_.size() > kCapacity) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return c;
}

ConstraintResult response_format_constraint(const json* rf, GrammarCache* cache) {
  if (!rf) return {};
  const json type = rf->is_object() ? rf->value("type", json()) : json();
  if (type == "text") return {};
  if (type == "json_object")
    return compiled(
        cache, "json_object", [] { return constrain::any_object_grammar(); }, "response_format");
  if (type != "json_schema")
    return failed("response_format.type",
                  "'response_format.type' must be \"text\", "
                  "\"json_object\" or \"json_schema\", got " +
                      shown(type));
  const json js = rf->value("json_schema", json());
  if (!js.is_object() || !js.contains("schema"))
    return failed("response_format.json_schema.schema",
                  "'response_format.json_schema.schema' is required for type json_schema");
  const json& schema = js["schema"];
  return compiled(
      cache, "schema:" + schema.dump(),
      [&] { return constrain::compile_json_schema(schema, "response_format.json_schema.schema"); },
      "response_format.json_schema.schema");
}

std::shared_ptr<const constrain::Vocabulary> vocabulary_of(const Tokenizer& tok,
                                                           const ModelFacts& facts) {
  std::vector<std::string> bytes(size_t(facts.vocab_size));
  for (int32_t id = 0; id < int32_t(bytes.size()) && id < tok.size(); ++id) {
    if (id == facts.mask_id) continue;
    auto b = tok.decode_bytes(std::span(&id, 1), true);
    if (b.is_ok()) bytes[size_t(id)] = std::move(b).value();
  }
  return std::make_shared<const constrain::Vocabulary>(std::move(bytes), facts.stop_ids);
}

std::optional<ApiError> check_tools(const std::vector<json>& tools) {
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = fmt::format("tools[{}]", i);
    const json& t = tools[i];
    if (!t.is_object() || t.value("type", json("function")) != "function")
      return invalid_request("'" + where + "' must be {\"type\": \"function\", \"function\": ...}",
                             where);
    const json f = t.value("function", json());
    if (!f.is_object() || !f.value("name", json()).is_string() ||
        f["name"].get<std::string>().empty())
      return invalid_request("'" + where + ".function.name' is required (a non-empty string)",
                             where + ".function.name");
    if (f.contains("parameters") && !f["parameters"].is_object() && !f["parameters"].is_null())
      return invalid_request("'" + where + ".function.parameters' must be a JSON Schema object",
                             where + ".function.parameters");
  }
  return std::nullopt;
}

ConstraintResult tool_choice_constraint(const json* choice, const std::vector<json>& tools,
                                        bool parallel, int32_t open_id, GrammarCache* cache) {
  if (choice && *choice == "none") return {};
  const bool automatic = !choice || *choice == "auto";
  if (automatic && (tools.empty() || open_id < 0 || !cache)) return {};
  std::string named;
  if (!automatic && choice->is_object()) {
    const json f = choice->value("function", json());
    if (choice->value("type", json()) != "function" || !f.is_object() ||
        !f.value("name", json()).is_string())
      return failed("tool_choice",
                    "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                    "{\"type\": \"function\", \"function\": {\"name\": ...}}, got " +
                        shown(*choice));
    named = f["name"].get<std::string>();
  } else if (!automatic && *choice != "required") {
    return failed("tool_choice",
                  "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                  "{\"type\": \"function\", \"function\": {\"name\": ...}}, got " +
                      shown(*choice));
  }
  if (tools.empty()) return failed("tool_choice", "'tool_choice' needs 'tools'");
  std::vector<constrain::ToolSchema> schemas;
  std::vector<std::string> where;
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& f = tools[i]["function"];
    if (!named.empty() && f["name"] != named) continue;
    schemas.push_back({f["name"].get<std::string>(), f.value("parameters", json())});
    where.push_back(fmt::format("tools[{}].function.parameters", i));
  }
  if (schemas.empty())
    return failed("tool_choice", "'tool_choice' names the function '" + named.substr(0, 100) +
                                     "', which is not in 'tools'");
  const bool many = parallel && named.empty();
  json key = json::array();
  for (const auto& s : schemas) key.push_back({s.name, s.parameters});
  ConstraintResult r = compiled(
      cache, std::string("tools:") + (many ? "n:" : "1:") + (automatic ? "auto:" : "") + key.dump(),
      [&] { return constrain::tool_call_grammar(schemas, many, where, automatic); }, "tools");
  if (automatic && r.error) return {};  // tools this engine cannot enforce stay free on auto
  if (automatic) r.trigger = open_id;
  return r;
}

}  // namespace wedlm::server
