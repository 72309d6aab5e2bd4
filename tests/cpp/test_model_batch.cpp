// Batched forward: segments of several sequences in one forward, each through its own block table
// in one shared pool, give bit for bit the logits (and K/V) each sequence gets alone in its own
// cache, whatever the batch composition and the physical blocks: the serving engine's batch
// invariance rests on this.
#include <cstring>

#include <gtest/gtest.h>

#include "io/weights.h"
#include "model/model.h"
#include "test_util.h"

namespace wedlm {
namespace {

struct Seq {
  std::vector<int32_t> ids;
  int64_t n_prefix;            // rows run earlier (n_kv of the batched rows)
  std::vector<int32_t> table;  // its blocks in the shared pool
};

std::vector<int64_t> iota_from(int64_t from, int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = from + i;
  return v;
}

// The rows after n_prefix, alone: the prefix first, then the rows with logits for all of them.
std::vector<float> alone(Model& m, const Seq& s, int64_t block) {
  KvCache cache(m.config(), 8, block);
  const std::vector<int32_t> table = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<float> logits;
  const std::span<const int32_t> ids(s.ids);
  m.forward(ids.first(size_t(s.n_prefix)), iota_from(0, s.n_prefix), cache, table, 0, {}, logits);
  const int64_t n = int64_t(s.ids.size()) - s.n_prefix;
  std::vector<int32_t> rows(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = int32_t(i);
  m.forward(ids.subspan(size_t(s.n_prefix)), iota_from(s.n_prefix, n), cache, table, s.n_prefix,
            rows, logits);
  return logits;
}

void check_model(const std::string& dir) {
  SCOPED_TRACE(dir);
  auto ck = Checkpoint::open(dir);
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  auto ops = make_cpu_ops();
  Model m(*ck.value(), *ops);
  const int64_t V = m.config().vocab_size, block = 4;
  // A prefill chunk, a WeDLM-like window over a prefix, an AR-like single row; blocks interleaved.
  std::vector<Seq> seqs = {{{5, 9, 2, 7, 7, 1, 3}, 0, {6, 1}},
                           {{4, 4, 8, 2, 6, 1, 9, 3, 2, 5, 8}, 5, {2, 7, 0}},
                           {{3, 1, 4, 1, 5, 9}, 5, {5, 3}}};
  KvCache pool(m.config(), 8, block);
  std::vector<float> logits;
  for (const Seq& s : seqs)  // each sequence's prefix into its own blocks of the pool
    if (s.n_prefix > 0)
      m.forward(std::span<const int32_t>(s.ids).first(size_t(s.n_prefix)), iota_from(0, s.n_prefix),
                pool, s.table, 0, {}, logits);
  Batch b;
  for (const Seq& s : seqs) {
    const int64_t n = int64_t(s.ids.size()) - s.n_prefix;
    std::vector<int32_t> rows(static_cast<size_t>(n), 0);
    for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = int32_t(i);
    b.add(std::span<const int32_t>(s.ids).subspan(size_t(s.n_prefix)), iota_from(s.n_prefix, n),
          s.n_prefix, s.table, rows);
  }
  m.forward(b, pool, logits);
  size_t at = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const std::vector<float> want = alone(m, seqs[i], block);
    ASSERT_LE(at + want.size(), logits.size());
    EXPECT_EQ(0, std::memcmp(want.data(), logits.data() + at, want.size() * sizeof(float)))
        << "sequence " << i << " differs batched";
    at += want.size();
  }
  EXPECT_EQ(at, logits.size());
  EXPECT_EQ(int64_t(logits.size()) % V, 0);
}

TEST(ModelBatch, SegmentsMatchTheirSoloForwardsBitForBit) {
  const std::string dir = test::source_dir() + "/tests/data/fixtures/";
  check_model(dir + "qwen3-untied");
  check_model(dir + "qwen2-derived-headdim");  // q/k/v biases
}

// Past the last layer's K/V only the logit rows are computed: rows asked out of order, twice, or
// not at all must give what asking every row gives, and leave the same K/V behind.
TEST(ModelBatch, AnySubsetOfLogitRowsGivesThoseRowsLogits) {
  auto ck = Checkpoint::open(test::source_dir() + "/tests/data/fixtures/qwen3-untied");
  ASSERT_TRUE(ck.is_ok()) << ck.status().to_string();
  auto ops = make_cpu_ops();
  Model m(*ck.value(), *ops);
  const size_t V = size_t(m.config().vocab_size);
  const std::vector<int32_t> ids = {5, 9, 2, 7, 7, 1, 3}, next = {4}, table = {0, 1};
  const std::vector<int32_t> all = {0, 1, 2, 3, 4, 5, 6};
  auto run = [&](const std::vector<int32_t>& rows, std::vector<float>& after) {
    KvCache cache(m.config(), 2, 8);
    std::vector<float> logits;
    m.forward(ids, iota_from(0, 7), cache, table, 0, rows, logits);
    m.forward(next, iota_from(7, 1), cache, table, 7, std::vector<int32_t>{0}, after);
    return logits;
  };
  std::vector<float> after_all, after;
  const std::vector<float> every = run(all, after_all);
  for (const std::vector<int32_t>& rows :
       {std::vector<int32_t>{4, 1, 1, 6}, std::vector<int32_t>{}}) {
    const std::vector<float> got = run(rows, after);
    ASSERT_EQ(got.size(), rows.size() * V);
    for (size_t r = 0; r < rows.size(); ++r)
      EXPECT_EQ(
          0, std::memcmp(got.data() + r * V, every.data() + size_t(rows[r]) * V, V * sizeof(float)))
          << "asked row " << r << " (row " << rows[r] << ")";
    EXPECT_EQ(after, after_all) << "the K/V left behind differ";
  }
}

TEST(ModelBatch, ALogitRowOutsideItsSegmentIsRefused) {
  Batch b;
  const std::vector<int32_t> ids = {1, 2};
  const std::vector<int64_t> pos = {0, 1};
  const std::vector<int32_t> table = {0}, rows = {2};
  EXPECT_DEATH(b.add(ids, pos, 0, table, rows), "logit row outside its segment");
}

}  // namespace
}  // namespace wedlm
