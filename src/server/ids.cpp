#include "server/ids.h"

#include <mutex>
#include <random>

#include <fmt/core.h>

namespace wedlm::server {

uint64_t fresh_seed() {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return gen();
}

std::string request_id(const char* prefix, int64_t n) {
  return fmt::format("{}{:x}{:012x}", prefix, n, fresh_seed() & 0xffffffffffffull);
}

}  // namespace wedlm::server
