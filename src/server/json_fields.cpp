#include "server/json_fields.h"

#include <algorithm>

#include <cmath>

#include <fmt/core.h>

namespace wedlm::server {

std::string shown(const nlohmann::ordered_json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

const nlohmann::ordered_json* JsonFields::get(const std::string& name) const {
  const auto it = b_.find(name);
  return it == b_.end() || it->is_null() ? nullptr : &*it;
}

void JsonFields::fail(const std::string& param, const std::string& message,
                      const std::string& code) {
  if (!error_) error_ = invalid_request(message, param, code);
}

std::optional<double> JsonFields::number(const std::string& name, double lo, double hi) {
  const nlohmann::ordered_json* v = get(name);
  if (!v || error_) return std::nullopt;
  if (!v->is_number() || !(v->get<double>() >= lo && v->get<double>() <= hi)) {
    fail(name, fmt::format("'{}' must be a number in [{}, {}], got {}", name, lo, hi, shown(*v)));
    return std::nullopt;
  }
  return v->get<double>();
}

std::optional<int64_t> JsonFields::integer(const std::string& name, int64_t lo, int64_t hi) {
  const nlohmann::ordered_json* v = get(name);
  if (!v || error_) return std::nullopt;
  bool ok = v->is_number_integer();
  if (ok && v->is_number_unsigned()) ok = v->get<uint64_t>() <= uint64_t(hi);
  if (!ok || v->get<int64_t>() < lo || v->get<int64_t>() > hi) {
    fail(name, fmt::format("'{}' must be an integer in [{}, {}], got {}", name, lo, hi, shown(*v)));
    return std::nullopt;
  }
  return v->get<int64_t>();
}

std::optional<bool> JsonFields::boolean(const std::string& name) {
  const nlohmann::ordered_json* v = get(name);
  if (!v || error_) return std::nullopt;
  if (!v->is_boolean()) {
    fail(name, fmt::format("'{}' must be true or false, got {}", name, shown(*v)));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::string> JsonFields::string(const std::string& name) {
  const nlohmann::ordered_json* v = get(name);
  if (!v || error_) return std::nullopt;
  if (!v->is_string()) {
    fail(name, fmt::format("'{}' must be a string, got {}", name, shown(*v)));
    return std::nullopt;
  }
  return v->get<std::string>();
}

}  // namespace wedlm::server
