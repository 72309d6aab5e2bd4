// Benchmark statistics and serving metrics (vLLM's TTFT / TPOT / ITL / E2EL definitions) against
// hand-computed values; the SSE parser on events split across reads; a replica's counters from its
// /metrics text.
#include <cmath>

#include <gtest/gtest.h>

#include "bench/replica_metrics.h"
#include "bench/serve_metrics.h"
#include "bench/stats.h"

namespace wedlm::bench {
namespace {

TEST(BenchStats, MeanAndSampleStandardDeviation) {
  EXPECT_EQ(mean({2, 4, 4, 4, 5, 5, 7, 9}), 5.0);
  EXPECT_NEAR(stddev({2, 4, 4, 4, 5, 5, 7, 9}), std::sqrt(32.0 / 7.0), 1e-12);  // n - 1
  EXPECT_EQ(stddev({3}), 0.0);
  EXPECT_EQ(mean({}), 0.0);
}

TEST(BenchStats, PercentilesInterpolateBetweenClosestRanks) {
  const std::vector<double> x = {4, 1, 3, 2};  // unsorted on purpose
  EXPECT_EQ(percentile(x, 0), 1.0);
  EXPECT_EQ(percentile(x, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile(x, 50), 2.5);   // rank 1.5
  EXPECT_DOUBLE_EQ(percentile(x, 95), 3.85);  // rank 2.85: 3 + 0.85
  EXPECT_DOUBLE_EQ(percentile(x, 99), 3.97);
  EXPECT_EQ(percentile({7}, 99), 7.0);
  EXPECT_EQ(percentile({}, 50), 0.0);
}

RequestOutcome outcome(double ttft, std::vector<double> gaps, int64_t tokens, double e2e) {
  RequestOutcome o;
  o.ok = true, o.ttft_ms = ttft, o.itl_ms = std::move(gaps), o.output_tokens = tokens;
  o.n_chunks = int64_t(o.itl_ms.size()) + 1, o.e2e_ms = e2e, o.prompt_tokens = 10;
  return o;
}

TEST(ServeMetrics, DefinitionsOfTtftTpotItlE2el) {
  // request A: first chunk at 100 ms, chunks at +50 and +30, 7 tokens, ends at 190 ms
  // request B: first chunk at 200 ms, one more at +100, 3 tokens, ends at 310 ms
  RequestOutcome failed;
  failed.error = "HTTP 503";
  const std::vector<RequestOutcome> outs = {outcome(100, {50, 30}, 7, 190),
                                            outcome(200, {100}, 3, 310), failed};
  const ServeMetrics m = serve_metrics(outs, 2.0);
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_output, 10);
  EXPECT_EQ(m.total_input, 20);
  EXPECT_DOUBLE_EQ(m.ttft.mean, 150);
  // TPOT: A (190 - 100) / 6 = 15, B (310 - 200) / 2 = 55
  EXPECT_DOUBLE_EQ(m.tpot.mean, 35);
  EXPECT_DOUBLE_EQ(m.tpot.median, 35);
  // ITL pools every gap between chunks: 50, 30, 100
  EXPECT_DOUBLE_EQ(m.itl.mean, 60);
  EXPECT_DOUBLE_EQ(m.itl.median, 50);
  EXPECT_DOUBLE_EQ(m.e2el.p99, 190 + 0.99 * 120);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.output_throughput, 5.0);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 15.0);
  EXPECT_DOUBLE_EQ(m.chunks_per_s, 2.5);      // 5 chunks in 2 s
  EXPECT_DOUBLE_EQ(m.tokens_per_chunk, 2.0);  // 10 tokens in 5 chunks
  const auto j = serve_json(m, outs);
  EXPECT_EQ(j["completed"], 2);
  EXPECT_DOUBLE_EQ(j["median_itl_ms"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(j["ttfts"][0].get<double>(), 0.1) << "seconds, as vLLM stores them";
  EXPECT_EQ(j["errors"][2], "HTTP 503");
  EXPECT_NE(serve_report("single", m).find("Mean TPOT (ms):"), std::string::npos);
}

TEST(ServeMetrics, SseEventsSplitAcrossReads) {
  SseParser p;
  std::vector<std::string> got;
  const auto on = [&](const std::string& e) { got.push_back(e); };
  const std::string head = "data: {\"a\"";
  p.feed(head.data(), head.size(), on);
  EXPECT_TRUE(got.empty());
  const std::string rest = ":1}\n\n: keep-alive\n\ndata: [DONE]\n\n";
  p.feed(rest.data(), rest.size(), on);
  EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "[DONE]"})) << "comments are skipped";
}

TEST(ReplicaMetrics, CountersFromTheExpositionSummedOverLabels) {
  const std::string text =
      "# HELP wedlm:request_success_total Finished generation requests by reason.\n"
      "# TYPE wedlm:request_success_total counter\n"
      "wedlm:request_success_total{finished_reason=\"stop\"} 7\n"
      "wedlm:request_success_total{finished_reason=\"length\"} 5\r\n"
      "wedlm:prompt_tokens_total 1200\n"
      "wedlm:prompt_tokens_total_bogus 99\n"
      "wedlm:prefix_cache_hits_total 800\n"
      "wedlm:prefix_cache_hit_rate 0.66\n";
  const ReplicaCounters c = parse_replica_counters(text);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.requests, 12);
  EXPECT_EQ(c.prompt_tokens, 1200);
  EXPECT_EQ(c.cached_tokens, 800);
  const ReplicaCounters none = parse_replica_counters("vllm:num_requests_running 1\n");
  EXPECT_FALSE(none.ok);
  EXPECT_NE(none.error.find("no wedlm:"), std::string::npos);
}

TEST(ReplicaMetrics, DeltaCountsFromZeroAfterARestartAndNamesAnUnreachableReplica) {
  ReplicaCounters before{true, "", 10, 1000, 500}, after{true, "", 14, 1400, 800};
  ReplicaDelta d = replica_delta("http://a", before, after);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.requests, 4);
  EXPECT_EQ(d.prompt_tokens, 400);
  EXPECT_EQ(d.cached_tokens, 300);
  const ReplicaCounters restarted{true, "", 3, 90, 20};  // counters went down: a new process
  d = replica_delta("http://a", before, restarted);
  EXPECT_EQ(d.requests, 3);
  EXPECT_EQ(d.cached_tokens, 20);
  const ReplicaCounters down{false, "Connection", 0, 0, 0};
  d = replica_delta("http://b", before, down);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("after the run: Connection"), std::string::npos);
  EXPECT_NE(replica_table({d}).find("unreachable"), std::string::npos);
  d = replica_delta("http://b", down, after);  // down at the start, back by the end
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.requests, 14);
}

}  // namespace
}  // namespace wedlm::bench
