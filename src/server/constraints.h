// The request fields that constrain a reply (response_format, tool_choice with tools) -> the
// grammar the decoders follow (constrain/), compiled once per distinct schema or tool set and
// kept, with its cache of allowed sets, for the requests that repeat it (agents do).
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "constrain/token_masks.h"
#include "decode/generate_params.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace wedlm::server {

using Constraint = std::shared_ptr<const constrain::TokenMasks>;

// Compiled grammars by their request text, the last kCapacity used. Thread-safe.
class GrammarCache {
 public:
  static constexpr size_t kCapacity = 64;
  explicit GrammarCache(std::shared_ptr<const constrain::Vocabulary> v) : vocab_(std::move(v)) {}
  const constrain::Vocabulary& vocabulary() const { return *vocab_; }
  Constraint find(const std::string& key);
  Constraint add(const std::string& key, constrain::Grammar g);

 private:
  std::shared_ptr<const constrain::Vocabulary> vocab_;
  std::mutex mu_;
  std::list<std::pair<std::string, Constraint>> lru_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, Constraint>>::iterator> index_;
};

struct ConstraintResult {
  Constraint constraint;  // null: the reply is free
  std::optional<ApiError> error;
  int32_t trigger = -1;  // the constraint starts after this token (GenerateParams::trigger_id)
};

// response_format: {"type": "text"} (free), {"type": "json_object"}, or {"type": "json_schema",
// "json_schema": {"schema": ...}}. Absent: free.
ConstraintResult response_format_constraint(const nlohmann::ordered_json* rf, GrammarCache* cache);
// tool_choice "required" or {"type": "function", "function": {"name": ...}} over `tools` (each
// checked: a function with a string name): the reply is calls. "auto" or absent, with tools and a
// tool-call token (`open_id` >= 0): free text, and calls once that token is drawn (the trigger);
// tools whose schemas cannot be enforced leave an auto reply free, as the model writes it.
// "none": free.
ConstraintResult tool_choice_constraint(const nlohmann::ordered_json* choice,
                                        const std::vector<nlohmann::ordered_json>& tools,
                                        bool parallel, int32_t open_id, GrammarCache* cache);
// The tokenizer's tokens as bytes (special tokens and the mask: none), ending with the model's
// stop ids: what every grammar of this server is matched over.
std::shared_ptr<const constrain::Vocabulary> vocabulary_of(const Tokenizer& tok,
                                                           const ModelFacts& facts);
// Each tool is {"type": "function", "function": {"name": string, "parameters": object?}}.
std::optional<ApiError> check_tools(const std::vector<nlohmann::ordered_json>& tools);

}  // namespace wedlm::server
