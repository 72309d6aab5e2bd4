// Typed reads of optional request fields with OpenAI's leniency (absent and null mean "not given",
// unknown fields are ignored) and strictness (a wrong type or an out-of-range value is a 400 that
// names the field and shows what it got). The first error is kept; later reads return nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"  // json_depth, kMaxJsonDepth: also for JSON inside strings
#include "server/api_error.h"

namespace wedlm::server {

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::ordered_json& body) : b_(body) {}

  const nlohmann::ordered_json* get(const std::string& name) const;  // nullptr when absent or null
  bool has(const std::string& name) const { return b_.contains(name); }
  std::optional<double> number(const std::string& name, double lo, double hi);
  std::optional<int64_t> integer(const std::string& name, int64_t lo, int64_t hi);
  std::optional<bool> boolean(const std::string& name);
  std::optional<std::string> string(const std::string& name);
  // Records an error about `param` (unless one is recorded already).
  void fail(const std::string& param, const std::string& message, const std::string& code = "");
  const std::optional<ApiError>& error() const { return error_; }

 private:
  const nlohmann::ordered_json& b_;
  std::optional<ApiError> error_;
};

// A JSON value shown in an error message, cut to 60 characters.
std::string shown(const nlohmann::ordered_json& v);

}  // namespace wedlm::server
