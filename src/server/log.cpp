#include "server/log.h"

#include <chrono>
#include <ctime>
#include <mutex>

#include <fmt/core.h>

namespace wedlm::server {

LogLevel level_of_status(int status) {
  return status >= 500 ? LogLevel::kError : status >= 400 ? LogLevel::kWarn : LogLevel::kInfo;
}

std::string iso8601_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03d}Z", buf, int(ms.count()));
}

void log_json(LogLevel level, const nlohmann::ordered_json& fields) {
  static std::mutex mu;
  static const char* kNames[] = {"info", "warn", "error"};
  nlohmann::ordered_json line = {{"ts", iso8601_now()}, {"level", kNames[int(level)]}};
  for (const auto& [key, value] : fields.items()) line[key] = value;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu);
  fmt::print(stderr, "{}\n", text);
  std::fflush(stderr);
}

}  // namespace wedlm::server
