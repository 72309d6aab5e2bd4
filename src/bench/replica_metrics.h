// What each replica behind a router did during a benchmark, from the replicas' own /metrics
// (scraped before and after the run): generation requests finished, prompt tokens, and prompt
// tokens served from the prefix cache. It reads wedlm.cpp's `wedlm:` counters.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wedlm::bench {

struct ReplicaCounters {
  bool ok = false;
  std::string error;  // why the scrape failed
  double requests = 0, prompt_tokens = 0, cached_tokens = 0;
};

// The counters in a Prometheus text exposition (wedlm:request_success_total summed over its
// labels, wedlm:prompt_tokens_total, wedlm:prefix_cache_hits_total).
ReplicaCounters parse_replica_counters(const std::string& exposition);
// GET base_url/metrics.
ReplicaCounters scrape_replica(const std::string& base_url);

// The counts between two scrapes: a counter that went down (the replica restarted) counts from
// zero, as Prometheus's increase() does; a replica unreachable at either end is named so.
struct ReplicaDelta {
  std::string url;
  bool ok = false;
  std::string error;
  double requests = 0, prompt_tokens = 0, cached_tokens = 0;
};
ReplicaDelta replica_delta(const std::string& url, const ReplicaCounters& before,
                           const ReplicaCounters& after);

std::string replica_table(const std::vector<ReplicaDelta>& replicas);
nlohmann::ordered_json replica_json(const std::vector<ReplicaDelta>& replicas);

}  // namespace wedlm::bench
