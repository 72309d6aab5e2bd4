// Sends a list of requests to an OpenAI-compatible server as a load: at most `max_concurrency` in
// flight (0 = no limit), arriving as a Poisson process of `request_rate` per second (infinity =
// all at once), as vLLM's benchmark_serving does. A progress bar on a terminal, quiet otherwise.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/openai_client.h"

namespace wedlm::bench {

struct LoadSpec {
  int max_concurrency = 0;
  double request_rate = std::numeric_limits<double>::infinity();
  uint64_t seed = 0;
  bool progress = true;  // drawn only when stderr is a terminal
};

struct LoadResult {
  std::vector<RequestOutcome> outcomes;  // in the order of the requests
  double duration_s = 0;
};

LoadResult run_load(const ClientConfig& cfg, const std::vector<nlohmann::json>& bodies,
                    const LoadSpec& spec);

}  // namespace wedlm::bench
