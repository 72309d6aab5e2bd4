#include "bench/replica_metrics.h"

#include <cstdlib>
#include <sstream>

#include <fmt/core.h>
#include <httplib.h>

namespace wedlm::bench {
namespace {

// The value of a sample line "name{labels} value" or "name value" whose name is `name`.
bool sample_of(const std::string& line, const std::string& name, double& value) {
  if (line.compare(0, name.size(), name) != 0 || line.size() == name.size()) return false;
  const char next = line[name.size()];
  if (next != ' ' && next != '{') return false;
  const size_t space = line.rfind(' ');
  if (space == std::string::npos || space < name.size()) return false;
  char* end = nullptr;
  value = std::strtod(line.c_str() + space + 1, &end);
  return end && *end == '\0';
}

double increase(double before, double after) { return after >= before ? after - before : after; }

}  // namespace

ReplicaCounters parse_replica_counters(const std::string& exposition) {
  ReplicaCounters c;
  std::istringstream in(exposition);
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    double v = 0;
    if (sample_of(line, "wedlm:request_success_total", v))
      c.requests += v, any = true;
    else if (sample_of(line, "wedlm:prompt_tokens_total", v))
      c.prompt_tokens = v, any = true;
    else if (sample_of(line, "wedlm:prefix_cache_hits_total", v))
      c.cached_tokens = v, any = true;
  }
  c.ok = any;
  if (!any) c.error = "no wedlm: counters in the metrics";
  return c;
}

ReplicaCounters scrape_replica(const std::string& base_url) {
  httplib::Client cli(base_url);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(10, 0);
  const auto res = cli.Get("/metrics");
  ReplicaCounters c;
  if (!res)
    c.error = httplib::to_string(res.error());
  else if (res->status != 200)
    c.error = fmt::format("HTTP {}", res->status);
  else
    return parse_replica_counters(res->body);
  return c;
}

ReplicaDelta replica_delta(const std::string& url, const ReplicaCounters& before,
                           const ReplicaCounters& after) {
  ReplicaDelta d;
  d.url = url;
  if (!before.ok) d.error = "before the run: " + before.error;
  if (!after.ok) {
    d.error = "after the run: " + after.error;
    return d;
  }
  // a replica that was down at the start counts everything it did since
  const ReplicaCounters zero;
  const ReplicaCounters& b = before.ok ? before : zero;
  d.ok = true;
  d.requests = increase(b.requests, after.requests);
  d.prompt_tokens = increase(b.prompt_tokens, after.prompt_tokens);
  d.cached_tokens = increase(b.cached_tokens, after.cached_tokens);
  return d;
}

std::string replica_table(const std::vector<ReplicaDelta>& replicas) {
  std::string t =
      "| replica | requests | prompt tokens | cached tokens | cached % |\n"
      "|---|---:|---:|---:|---:|\n";
  for (const ReplicaDelta& r : replicas)
    t += r.ok ? fmt::format("| {} | {:.0f} | {:.0f} | {:.0f} | {:.1f} |\n", r.url, r.requests,
                            r.prompt_tokens, r.cached_tokens,
                            r.prompt_tokens > 0 ? 100 * r.cached_tokens / r.prompt_tokens : 0.0)
              : fmt::format("| {} | unreachable {} | | | |\n", r.url, r.error);
  return t;
}

nlohmann::ordered_json replica_json(const std::vector<ReplicaDelta>& replicas) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const ReplicaDelta& r : replicas) {
    nlohmann::ordered_json j = {{"url", r.url}, {"ok", r.ok}};
    if (!r.error.empty()) j["error"] = r.error;
    if (r.ok) {
      j["requests"] = r.requests;
      j["prompt_tokens"] = r.prompt_tokens;
      j["cached_tokens"] = r.cached_tokens;
    }
    a.push_back(std::move(j));
  }
  return a;
}

}  // namespace wedlm::bench
