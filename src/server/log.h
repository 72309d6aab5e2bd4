// The server's log: one JSON object a line on stderr, each starting with its time and level,
//   {"ts": "2026-12-05T22:35:05.123Z", "level": "info", "event": "request", ...}
// so that a log shipper reads it without a pattern. Thread-safe: lines are written whole.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace wedlm::server {

enum class LogLevel { kInfo, kWarn, kError };

// The level of a request that ended with HTTP `status`: info, warn (4xx), error (5xx).
LogLevel level_of_status(int status);
// Now, in UTC, ISO 8601 with milliseconds.
std::string iso8601_now();
void log_json(LogLevel level, const nlohmann::ordered_json& fields);

}  // namespace wedlm::server
