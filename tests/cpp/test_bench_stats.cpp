// Benchmark statistics against hand-computed values.
#include <cmath>

#include <gtest/gtest.h>

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
  EXPECT_DOUBLE_EQ(percentile(x, 50), 2.5);    // rank 1.5
  EXPECT_DOUBLE_EQ(percentile(x, 95), 3.85);   // rank 2.85: 3 + 0.85
  EXPECT_DOUBLE_EQ(percentile(x, 99), 3.97);
  EXPECT_EQ(percentile({7}, 99), 7.0);
  EXPECT_EQ(percentile({}, 50), 0.0);
}

}  // namespace
}  // namespace wedlm::bench
