// JSON Schema -> Grammar: the subset OpenAI's strict mode and vLLM accept. Objects (properties in
// order, required, additionalProperties true/false: no other property is generated), arrays
// (items, minItems, maxItems), strings (minLength, maxLength), integers and numbers (minimum,
// maximum; exclusive bounds for integers), boolean, null, enum, const, anyOf, type lists,
// allOf of one schema, $ref into #/$defs or #/definitions (nested at most kMaxRefDepth deep), and
// annotations (title, description, default, examples, ...). Anything else is refused with a
// message naming the keyword and where it is, never ignored.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "constrain/grammar.h"
#include "core/status.h"

namespace wedlm::constrain {

inline constexpr int kMaxRefDepth = 8;
inline constexpr size_t kMaxSchemaNodes = 20000;  // a bigger schema is refused, not compiled

// Adds the nodes of `schema` to `g` and returns its root node; `where` names the schema in
// messages ("response_format.json_schema.schema").
Result<int32_t> add_json_schema(Grammar& g, const nlohmann::ordered_json& schema,
                                const std::string& where);
// A grammar whose replies are one value of `schema`.
Result<Grammar> compile_json_schema(const nlohmann::ordered_json& schema, const std::string& where);
// A grammar whose replies are one JSON object (response_format json_object).
Grammar any_object_grammar();

}  // namespace wedlm::constrain
