// The CUDA kernels against their host twins (ops/cuda/cuda_reference.h), on fresh random inputs
// with poisoned outputs. Without a device the kernel tests report Skipped (CTest label cuda); the
// twins' own checks against direct formulas run everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "ops/cuda/cuda_device.h"
#include "ops/cuda/cuda_gemm.h"
#include "ops/cuda/cuda_kernels.h"
#include "ops/cuda/cuda_reference.h"
#include "ops/sampling/sampling.h"
#include "sample_cases.h"

namespace wedlm::cuda {
namespace {

#define REQUIRE_DEVICE() \
  if (device_count() == 0) GTEST_SKIP() << "no CUDA device: kernel test skipped"

constexpr bf16_t kPoison = 0x7fc1;  // a NaN: any element left unwritten fails every comparison

std::vector<bf16_t> random_bf16(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<bf16_t> v(n);
  for (auto& x : v) x = f32_to_bf16(d(rng));
  return v;
}

// |a - b| within `ulps` units in the last place of a bf16 at the larger magnitude, or within
// `abs_floor` (for values that nearly cancel to 0, where an ulp means little).
::testing::AssertionResult near_bf16(const std::vector<bf16_t>& got,
                                     const std::vector<bf16_t>& want, int ulps,
                                     float abs_floor = 0) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < got.size(); ++i) {
    const float a = bf16_to_f32(got[i]), b = bf16_to_f32(want[i]);
    const float mag = std::max(std::fabs(a), std::fabs(b));
    const float ulp = mag > 0 ? std::ldexp(1.0f, std::ilogb(mag) - 7) : 1e-30f;
    if (!(std::fabs(a - b) <= std::max(ulps * ulp, abs_floor)))
      return ::testing::AssertionFailure() << "element " << i << ": " << a << " vs " << b;
  }
  return ::testing::AssertionSuccess();
}

double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

std::vector<bf16_t> poisoned(size_t n) { return std::vector<bf16_t>(n, kPoison); }

TEST(CudaKernels, EmbedRows) {
  REQUIRE_DEVICE();
  std::mt19937 rng(1);
  const int64_t vocab = 300, hidden = 200;
  const auto table = random_bf16(size_t(vocab * hidden), rng);
  const std::vector<int32_t> ids = {5, 0, 299, 5, 17};
  DeviceBuffer<bf16_t> d_table(table), d_out(poisoned(ids.size() * hidden));
  DeviceBuffer<int32_t> d_ids(ids);
  embed_rows(d_table.data(), hidden, d_ids.data(), int64_t(ids.size()), d_out.data(), nullptr);
  std::vector<bf16_t> want(ids.size() * hidden);
  host::embed_rows(table.data(), hidden, ids.data(), int64_t(ids.size()), want.data());
  EXPECT_EQ(d_out.download(), want);
}

TEST(CudaKernels, RmsNormAndAddRmsNorm) {
  REQUIRE_DEVICE();
  std::mt19937 rng(2);
  for (const int64_t d : {64, 1000, 4096}) {
    const int64_t n = 7;
    const auto x = random_bf16(size_t(n * d), rng, 3.0f), res = random_bf16(size_t(n * d), rng);
    const auto w = random_bf16(size_t(d), rng);
    DeviceBuffer<bf16_t> dx(x), dw(w), dy(poisoned(x.size()));
    rms_norm(dx.data(), n, d, dw.data(), 1e-6f, dy.data(), nullptr);
    std::vector<bf16_t> want(x.size());
    host::rms_norm(x.data(), n, d, w.data(), 1e-6f, want.data());
    // the device's rsqrtf and tree sum against 1/sqrt and a sequential sum can flip the inner
    // rounding of x * inv by one ulp, which the weight (mantissa up to 2) can make two
    EXPECT_TRUE(near_bf16(dy.download(), want, 2)) << "rms_norm d=" << d;

    DeviceBuffer<bf16_t> dres(res);  // y aliasing x, as the model uses it
    add_rms_norm(dx.data(), dres.data(), n, d, dw.data(), 1e-6f, dx.data(), nullptr);
    auto res_want = res;
    host::add_rms_norm(x.data(), res_want.data(), n, d, w.data(), 1e-6f, want.data());
    EXPECT_EQ(dres.download(), res_want) << "add_rms_norm residual d=" << d;
    EXPECT_TRUE(near_bf16(dx.download(), want, 2)) << "add_rms_norm d=" << d;
  }
}

TEST(CudaKernels, QkNormRope) {
  REQUIRE_DEVICE();
  std::mt19937 rng(3);
  const int64_t n = 5, hq = 4, hkv = 2, max_pos = 1024;
  for (const int64_t dh : {8, 16, 64, 128}) {
    for (const bool with_norm : {true, false}) {
      auto q = random_bf16(size_t(n * hq * dh), rng), k = random_bf16(size_t(n * hkv * dh), rng);
      const auto qn = random_bf16(size_t(dh), rng), kn = random_bf16(size_t(dh), rng);
      const std::vector<int64_t> pos = {0, 1, 17, 1023, 400};
      const auto table = host::rope_table(max_pos, dh, 1e6);
      DeviceBuffer<bf16_t> dq(q), dk(k), dqn(qn), dkn(kn);
      DeviceBuffer<int64_t> dpos(pos);
      DeviceBuffer<float> dtable(table);
      qk_norm_rope(dq.data(), dk.data(), n, hq, hkv, dh, with_norm ? dqn.data() : nullptr,
                   with_norm ? dkn.data() : nullptr, 1e-6f, dpos.data(), dtable.data(), nullptr);
      host::qk_norm_rope(q.data(), k.data(), n, hq, hkv, dh, with_norm ? qn.data() : nullptr,
                         with_norm ? kn.data() : nullptr, 1e-6f, pos.data(), table.data());
      EXPECT_TRUE(near_bf16(dq.download(), q, 2)) << "q, head_dim " << dh << " norm " << with_norm;
      EXPECT_TRUE(near_bf16(dk.download(), k, 2)) << "k, head_dim " << dh << " norm " << with_norm;
    }
  }
}

TEST(CudaKernels, StoreKvWritesOnlyItsSlots) {
  REQUIRE_DEVICE();
  std::mt19937 rng(4);
  const int64_t n = 6, kv_dim = 256, pool = 64;
  const auto k = random_bf16(size_t(n * kv_dim), rng), v = random_bf16(size_t(n * kv_dim), rng);
  std::vector<int64_t> slots;
  for (int64_t s : {40, 41, 42, 3, 63, 0}) slots.push_back(s * kv_dim);
  DeviceBuffer<bf16_t> dk(k), dv(v), kc(poisoned(size_t(pool * kv_dim))),
      vc(poisoned(size_t(pool * kv_dim)));
  DeviceBuffer<int64_t> ds(slots);
  store_kv(dk.data(), dv.data(), n, kv_dim, ds.data(), kc.data(), vc.data(), nullptr);
  auto kw = poisoned(size_t(pool * kv_dim)), vw = kw;
  host::store_kv(k.data(), v.data(), n, kv_dim, slots.data(), kw.data(), vw.data());
  EXPECT_EQ(kc.download(), kw);
  EXPECT_EQ(vc.download(), vw);
}

TEST(CudaKernels, AttentionOverPagedBlocks) {
  REQUIRE_DEVICE();
  std::mt19937 rng(5);
  const int64_t hq = 8, hkv = 2, bs = 16, pool_blocks = 12, n_layer = 3, layer = 1;
  for (const int64_t dh : {8, 16, 48, 64, 128, 256}) {
    // two sequences: 3 rows over 37 cached slots (a WeDLM step), and 2 rows from the start
    const std::vector<int32_t> tables = {7, 2, 9, 0, 4, 11, 5};  // blocks in shuffled order
    const std::vector<int32_t> n_keys = {38, 39, 40, 1, 2}, start = {0, 0, 0, 4, 4};
    const int64_t n = int64_t(n_keys.size()), kv_dim = hkv * dh;
    const int64_t stride = n_layer * bs * kv_dim, at = layer * bs * kv_dim;  // KvCache's layout
    const auto q = random_bf16(size_t(n * hq * dh), rng);
    const auto kc = random_bf16(size_t(pool_blocks * stride), rng, 2.0f);
    const auto vc = random_bf16(size_t(pool_blocks * stride), rng);
    std::vector<bf16_t> want(q.size());
    host::attention(q.data(), n, hq, hkv, dh,
                    AttentionRows{n_keys.data(), start.data(), tables.data(), bs, stride},
                    kc.data() + at, vc.data() + at, want.data());
    DeviceBuffer<bf16_t> dq(q), dkc(kc), dvc(vc);
    DeviceBuffer<int32_t> dt(tables), dn(n_keys), dstart(start);
    const AttentionRows rows{dn.data(), dstart.data(), dt.data(), bs, stride};
    // a group a sequence; the first sequence in two groups; the first sequence alone
    const std::vector<std::vector<AttentionTile>> groupings = {
        {{0, 3}, {3, 2}}, {{0, 2}, {2, 1}, {3, 2}}, {{0, 3}}};
    for (const auto& groups : groupings) {
      DeviceBuffer<AttentionTile> dg(groups);
      DeviceBuffer<bf16_t> dout(poisoned(q.size()));
      attention(dq.data(), hq, hkv, dh, rows, dg.data(), int64_t(groups.size()), dkc.data() + at,
                dvc.data() + at, dout.data(), nullptr);
      auto got = dout.download();
      if (groups.size() == 1) {  // rows of no group are left as they were
        EXPECT_TRUE(std::all_of(got.begin() + 3 * hq * dh, got.end(),
                                [](bf16_t x) { return x == kPoison; }));
        std::copy(want.begin() + 3 * hq * dh, want.end(), got.begin() + 3 * hq * dh);
      }
      // outputs that nearly cancel differ by more ulps than they are worth: 1e-5 absolute
      EXPECT_TRUE(near_bf16(got, want, 2, 1e-5f))
          << "head_dim " << dh << ", " << groups.size() << " groups";
    }
  }
}

// Few rows over long contexts, the keys split into runs (attention_splits' kind of call, and
// forced counts that leave runs without keys): the split kernel and its merge against the twin.
TEST(CudaKernels, AttentionSplitOverTheKeys) {
  REQUIRE_DEVICE();
  std::mt19937 rng(17);
  const int64_t hq = 8, hkv = 2, dh = 128, bs = 16, n_layer = 1;
  const int64_t pool_blocks = 200, kv_dim = hkv * dh, stride = n_layer * bs * kv_dim;
  std::vector<int32_t> tables(static_cast<size_t>(pool_blocks));
  std::iota(tables.begin(), tables.end(), 0);
  std::shuffle(tables.begin(), tables.end(), rng);
  // a step of 3 rows at ~3100 keys, and a row that sees 5 keys (most of its runs are empty)
  const std::vector<int32_t> n_keys = {3098, 3099, 3100, 5}, start = {0, 0, 0, 0};
  const std::vector<AttentionTile> groups = {{0, 3}, {3, 1}};
  const int64_t n = int64_t(n_keys.size());
  const auto q = random_bf16(size_t(n * hq * dh), rng);
  const auto kc = random_bf16(size_t(pool_blocks * stride), rng, 2.0f);
  const auto vc = random_bf16(size_t(pool_blocks * stride), rng);
  const AttentionRows host_rows{n_keys.data(), start.data(), tables.data(), bs, stride};
  std::vector<bf16_t> want(q.size());
  host::attention(q.data(), n, hq, hkv, dh, host_rows, kc.data(), vc.data(), want.data());
  DeviceBuffer<bf16_t> dq(q), dkc(kc), dvc(vc);
  DeviceBuffer<int32_t> dt(tables), dn(n_keys), dstart(start);
  DeviceBuffer<AttentionTile> dg(groups);
  const AttentionRows rows{dn.data(), dstart.data(), dt.data(), bs, stride};
  const int policy = attention_splits(2 * hkv, 3100, 3 * hq / hkv, multiprocessor_count());
  for (const int split : {1, 3, 7, 32, policy}) {
    const int64_t floats = std::max<int64_t>(attention_work_floats(n, hq, dh, split), 1);
    DeviceBuffer<float> work(static_cast<size_t>(floats));
    DeviceBuffer<bf16_t> dout(poisoned(q.size()));
    attention(dq.data(), hq, hkv, dh, rows, dg.data(), int64_t(groups.size()), dkc.data(),
              dvc.data(), dout.data(), nullptr, AttentionSplit{split, work.data()});
    EXPECT_TRUE(near_bf16(dout.download(), want, 2, 1e-5f)) << split << " runs";
  }
}

// A batch of sequences as the engine makes one: each (cached slots, new rows) sequence's blocks
// anywhere in a pool of one layer, its rows in groups of at most `group` rows; random q, K and V,
// and the twin's output.
struct StepBatch {
  int64_t hq, hkv, dh, bs = 16, stride;
  std::vector<int32_t> n_keys, start, tables;
  std::vector<AttentionTile> groups;
  int32_t max_keys = 0, max_rows = 0;
  std::vector<bf16_t> q, kc, vc, want;

  StepBatch(int64_t hq_, int64_t hkv_, int64_t dh_,
            const std::vector<std::pair<int32_t, int32_t>>& seqs, int32_t group, std::mt19937& rng)
      : hq(hq_), hkv(hkv_), dh(dh_), stride(bs * hkv_ * dh_) {
    for (const auto& [cached, rows] : seqs) {
      const int32_t row0 = int32_t(n_keys.size()), table0 = int32_t(tables.size());
      for (int32_t b = 0; b < (cached + rows + bs - 1) / bs; ++b) tables.push_back(table0 + b);
      for (int32_t r = 0; r < rows; ++r) n_keys.push_back(cached + r + 1), start.push_back(table0);
      for (int32_t r0 = 0; r0 < rows; r0 += group)
        groups.push_back({row0 + r0, std::min(group, rows - r0)});
      max_keys = std::max(max_keys, cached + rows);
      max_rows = std::max(max_rows, std::min(group, rows));
    }
    std::shuffle(tables.begin(), tables.end(), rng);  // blocks anywhere in the pool
    q = random_bf16(n_keys.size() * size_t(hq * dh), rng);
    kc = random_bf16(tables.size() * size_t(stride), rng, 2.0f);
    vc = random_bf16(tables.size() * size_t(stride), rng);
    want.resize(q.size());
    host::attention(q.data(), int64_t(n_keys.size()), hq, hkv, dh,
                    AttentionRows{n_keys.data(), start.data(), tables.data(), bs, stride},
                    kc.data(), vc.data(), want.data());
  }

  // The kernel's output with `split` runs against the twin's (2 ulps, 1e-5 absolute).
  ::testing::AssertionResult check(int split) const {
    DeviceBuffer<bf16_t> dq(q), dkc(kc), dvc(vc), dout(poisoned(q.size()));
    DeviceBuffer<int32_t> dt(tables), dn(n_keys), dstart(start);
    DeviceBuffer<AttentionTile> dg(groups);
    const int64_t floats = attention_work_floats(int64_t(n_keys.size()), hq, dh, split);
    DeviceBuffer<float> work(size_t(std::max<int64_t>(floats, 1)));
    attention(dq.data(), hq, hkv, dh,
              AttentionRows{dn.data(), dstart.data(), dt.data(), bs, stride}, dg.data(),
              int64_t(groups.size()), dkc.data(), dvc.data(), dout.data(), nullptr,
              AttentionSplit{split, work.data()});
    return near_bf16(dout.download(), want, 2, 1e-5f);
  }
};

// The 8B shape's attention (32 query heads over 8 KV heads, head_dim 128) on a batch as the engine
// makes one: a WeDLM step of 17 rows over 500 cached slots, 40 rows over 100 (two groups: 32 rows
// is a group's most here), an AR row over 700; the split the forward would choose.
TEST(CudaKernels, AttentionOfAStepBatchOnThe8BShape) {
  REQUIRE_DEVICE();
  std::mt19937 rng(23);
  ASSERT_EQ(attention_group_rows(32, 8, 128), 32);
  const StepBatch b(32, 8, 128, {{500, 17}, {100, 40}, {700, 1}}, 32, rng);
  const int policy = attention_splits(int64_t(b.groups.size()) * b.hkv, b.max_keys,
                                      b.max_rows * b.hq / b.hkv, multiprocessor_count());
  for (const int split : {1, 2, policy}) EXPECT_TRUE(b.check(split)) << split << " runs";
}

// Head ratios other than 4 (3 query heads a KV head: a group's query vectors not a multiple of
// the score phase's 4; 1: every head its own KV head), groups at their full capacity (head_dim
// 256: 64 query vectors), and the split, against the twin.
TEST(CudaKernels, AttentionAtOtherHeadRatiosAndFullGroups) {
  REQUIRE_DEVICE();
  std::mt19937 rng(29);
  for (const auto& [hq, hkv, dh] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {6, 2, 64}, {4, 4, 16}, {8, 2, 256}, {5, 1, 130}}) {
    const int32_t full = attention_group_rows(hq, hkv, dh);
    const StepBatch b(hq, hkv, dh, {{70, full}, {70, 3}}, full, rng);  // a full group, a short one
    for (const int split : {1, 3})
      EXPECT_TRUE(b.check(split)) << hq << "/" << hkv << " heads, head_dim " << dh << ", " << split
                                  << " runs";
  }
}

// Two segments as a prefill and a long step make them: 150 rows from the start, and 70 rows on
// top of 37 cached slots; 64-row tiles. P in bf16 (8 bits) bounds the difference from the twin's
// fp32 softmax to a few 1e-3 of the output's norm.
TEST(CudaKernels, TiledAttentionOverPagedBlocks) {
  REQUIRE_DEVICE();
  std::mt19937 rng(10);
  const int64_t hq = 8, hkv = 2, bs = 16, pool_blocks = 24, n_layer = 2, layer = 1;
  std::vector<int32_t> order(pool_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const std::vector<int32_t> tables(order.begin(), order.begin() + 17);  // 10 blocks, then 7
  std::vector<int32_t> n_keys, start;
  for (int32_t r = 0; r < 150; ++r) n_keys.push_back(r + 1), start.push_back(0);
  for (int32_t r = 0; r < 70; ++r) n_keys.push_back(37 + r + 1), start.push_back(10);
  const std::vector<AttentionTile> tiles = {{0, 64}, {64, 64}, {128, 22}, {150, 64}, {214, 6}};
  for (const int64_t dh : {64, 128}) {
    const int64_t n = int64_t(n_keys.size()), kv_dim = hkv * dh;
    const int64_t stride = n_layer * bs * kv_dim, at = layer * bs * kv_dim;
    const auto q = random_bf16(size_t(n * hq * dh), rng);
    const auto kc = random_bf16(size_t(pool_blocks * stride), rng, 2.0f);
    const auto vc = random_bf16(size_t(pool_blocks * stride), rng);
    DeviceBuffer<bf16_t> dq(q), dkc(kc), dvc(vc), dout(poisoned(q.size()));
    DeviceBuffer<int32_t> dt(tables), dn(n_keys), dstart(start);
    DeviceBuffer<AttentionTile> dtiles(tiles);
    attention_tiled(dq.data(), hq, hkv, dh,
                    AttentionRows{dn.data(), dstart.data(), dt.data(), bs, stride}, dtiles.data(),
                    int64_t(tiles.size()), dkc.data() + at, dvc.data() + at, dout.data(), nullptr);
    std::vector<bf16_t> want(q.size());
    host::attention(q.data(), n, hq, hkv, dh,
                    AttentionRows{n_keys.data(), start.data(), tables.data(), bs, stride},
                    kc.data() + at, vc.data() + at, want.data());
    std::vector<float> got_f, want_f;
    for (bf16_t x : dout.download()) got_f.push_back(bf16_to_f32(x));
    for (bf16_t x : want) want_f.push_back(bf16_to_f32(x));
    EXPECT_LT(rel_l2(got_f, want_f), 5e-3) << "head_dim " << dh;  // NaN (unwritten) fails too
  }
}

TEST(CudaKernels, SiluMul) {
  REQUIRE_DEVICE();
  std::mt19937 rng(6);
  const int64_t n = 9, ffn = 777;
  const auto gu = random_bf16(size_t(n * 2 * ffn), rng, 3.0f);
  DeviceBuffer<bf16_t> dgu(gu), dout(poisoned(size_t(n * ffn)));
  silu_mul(dgu.data(), n, ffn, dout.data(), nullptr);
  std::vector<bf16_t> want(size_t(n * ffn));
  host::silu_mul(gu.data(), n, ffn, want.data());
  EXPECT_TRUE(near_bf16(dout.download(), want, 1));
}

TEST(CudaKernels, AddBias) {
  REQUIRE_DEVICE();
  std::mt19937 rng(9);
  const int64_t n = 5, m = 640;
  auto y = random_bf16(size_t(n * m), rng);
  const auto b = random_bf16(size_t(m), rng);
  DeviceBuffer<bf16_t> dy(y), db(b);
  add_bias(dy.data(), n, m, db.data(), nullptr);
  host::add_bias(y.data(), n, m, b.data());
  EXPECT_EQ(dy.download(), y);
}

TEST(CudaKernels, RowStats) {
  REQUIRE_DEVICE();
  std::mt19937 rng(7);
  const int64_t n = 4, vocab = 151936;
  auto z = random_bf16(size_t(n * vocab), rng, 4.0f);
  z[size_t(2 * vocab + 100)] = z[size_t(2 * vocab + 90000)] = f32_to_bf16(60.0f);  // a tie
  const int64_t banned = 151665;
  z[size_t(3 * vocab + banned)] = f32_to_bf16(70.0f);  // the largest, but banned
  DeviceBuffer<bf16_t> dz(z);
  DeviceBuffer<RowStats> ds(static_cast<size_t>(n));
  row_stats(dz.data(), n, vocab, banned, ds.data(), nullptr);
  std::vector<RowStats> want(static_cast<size_t>(n));
  host::row_stats(z.data(), n, vocab, banned, want.data());
  const auto got = ds.download();
  std::vector<float> zf(z.size());  // the fp32 kernel on the same values gives the same stats
  for (size_t i = 0; i < z.size(); ++i) zf[i] = bf16_to_f32(z[i]);
  DeviceBuffer<float> dzf(zf);
  DeviceBuffer<RowStats> dsf(static_cast<size_t>(n));
  row_stats(dzf.data(), n, vocab, banned, dsf.data(), nullptr);
  const auto got_f = dsf.download();
  for (int64_t r = 0; r < n; ++r) {
    EXPECT_EQ(got[size_t(r)].argmax, want[size_t(r)].argmax) << "row " << r;
    EXPECT_EQ(got[size_t(r)].max, want[size_t(r)].max) << "row " << r;
    EXPECT_NEAR(got[size_t(r)].log_sum_exp, want[size_t(r)].log_sum_exp, 1e-4) << "row " << r;
    EXPECT_NEAR(got[size_t(r)].entropy, want[size_t(r)].entropy, 1e-3) << "row " << r;
  }
  EXPECT_EQ(got[2].argmax, 100);
  EXPECT_NE(got[3].argmax, banned);
  EXPECT_GT(got[3].log_sum_exp, 69.9f);  // the banned logit still counts in the sums
  for (int64_t r = 0; r < n; ++r) {
    EXPECT_EQ(got_f[size_t(r)].argmax, got[size_t(r)].argmax);
    EXPECT_EQ(got_f[size_t(r)].entropy, got[size_t(r)].entropy);
  }
}

// Rows drawn on the device under greedy, top-k, top-p and temperature take the host's sample_row
// choice: same rule, same integer sums; only expf may differ by an ulp (a flip would need a running
// sum within ~1e-7 of a boundary).
TEST(CudaKernels, SampleRowsChooseWhatTheHostChooses) {
  REQUIRE_DEVICE();
  for (const int64_t vocab : {5, 1000, 151936}) {
    const test::SampleCase c = test::sample_case(vocab, 40, uint32_t(vocab));
    const int64_t n = int64_t(c.draws.size());
    DeviceBuffer<float> dz(c.logits);
    DeviceBuffer<RowDraw> dd(c.draws);
    DeviceBuffer<int32_t> dt(std::vector<int32_t>(size_t(n), -7));
    sample_rows(dz.data(), n, vocab, dd.data(), dt.data(), nullptr);
    const std::vector<int32_t> got = dt.download();
    for (size_t r = 0; r < size_t(n); ++r)
      EXPECT_EQ(got[r], sample_row(c.row(r), vocab, c.draws[r]))
          << "vocab " << vocab << " row " << r;
  }
}

TEST(CudaKernels, GemmAgainstFloat64) {
  REQUIRE_DEVICE();
  std::mt19937 rng(8);
  Gemm gemm;
  for (const int64_t n : {1, 17, 64}) {
    const int64_t m = 384, k = 1024;
    const auto x = random_bf16(size_t(n * k), rng), w = random_bf16(size_t(m * k), rng, 0.03f);
    std::vector<float> want(size_t(n * m));
    host::matmul(x.data(), n, w.data(), m, k, want.data());
    DeviceBuffer<bf16_t> dx(x), dw(w), dyb(poisoned(want.size()));
    DeviceBuffer<float> dyf(std::vector<float>(want.size(), NAN));
    gemm.f32_out(dx.data(), n, dw.data(), m, k, dyf.data(), nullptr);
    gemm.bf16_out(dx.data(), n, dw.data(), m, k, dyb.data(), nullptr);
    // fp32 accumulation over k = 1024 products: ~1e-6; bf16 output rounding: ~2^-9 per element
    EXPECT_LT(rel_l2(dyf.download(), want), 1e-4) << "n=" << n;
    std::vector<float> yb;
    for (bf16_t h : dyb.download()) yb.push_back(bf16_to_f32(h));
    EXPECT_LT(rel_l2(yb, want), 4e-3) << "n=" << n;
  }
}

// The twins themselves, against direct formulas (no device needed).
// The split policy and the group size (host code, runs everywhere): runs enough for two blocks a
// multiprocessor, a 32-key tile a run for each 32 query vectors, at most 32; none once the blocks
// fill the device.
TEST(CudaTwins, AttentionSplitsByBlocksAgainstMultiprocessors) {
  EXPECT_EQ(attention_splits(8, 512, 4, 132), 16) << "an AR step at batch 1: 16 one-tile runs";
  EXPECT_EQ(attention_splits(8, 512, 68, 132), 5) << "a WeDLM step: 3 tiles a run";
  EXPECT_EQ(attention_splits(64, 512, 68, 132), 5) << "batch 8: 264 / 64 blocks";
  EXPECT_EQ(attention_splits(264, 8192, 68, 132), 1) << "two blocks an SM already";
  EXPECT_EQ(attention_splits(8, 20, 4, 132), 1) << "one tile of keys";
  EXPECT_EQ(attention_splits(8, 80, 68, 132), 1) << "3 tiles: one run of them";
  EXPECT_EQ(attention_splits(1, 100000, 4, 132), 32) << "capped at 32 runs";
  EXPECT_EQ(attention_splits(8, 512, 4, 16), 4) << "a smaller device";
  EXPECT_EQ(attention_work_floats(4, 8, 128, 1), 0);
  EXPECT_EQ(attention_work_floats(4, 8, 128, 3), 4 * 8 * 3 * 130);
  EXPECT_EQ(attention_group_rows(32, 8, 128), 32) << "128 query vectors, 4 heads a row";
  EXPECT_EQ(attention_group_rows(8, 2, 256), 16) << "64 query vectors at head_dim 256";
  EXPECT_EQ(attention_group_rows(16, 16, 8), 128);
  EXPECT_EQ(attention_group_rows(256, 1, 128), 0) << "more heads than a block takes";
  EXPECT_EQ(attention_group_rows(1, 1, 130), 96) << "65 pairs: 3 groups of threads x 32";
}

TEST(CudaTwins, RmsNormAndRopeTable) {
  const std::vector<bf16_t> x = {f32_to_bf16(3.0f), f32_to_bf16(-4.0f)},
                            w = {f32_to_bf16(2.0f), f32_to_bf16(0.5f)};
  std::vector<bf16_t> y(2);
  host::rms_norm(x.data(), 1, 2, w.data(), 0.0f, y.data());  // rms = sqrt(12.5)
  EXPECT_FLOAT_EQ(bf16_to_f32(y[0]),
                  host::round_bf16(host::round_bf16(3.0f / std::sqrt(12.5f)) * 2));
  EXPECT_FLOAT_EQ(bf16_to_f32(y[1]),
                  host::round_bf16(host::round_bf16(-4.0f / std::sqrt(12.5f)) * 0.5f));
  const auto t = host::rope_table(8, 4, 10000.0);  // pos 3: angles 3 and 3 / 100
  EXPECT_FLOAT_EQ(t[12], float(std::cos(3.0)));
  EXPECT_FLOAT_EQ(t[13], float(std::cos(0.03)));
  EXPECT_FLOAT_EQ(t[14], float(std::sin(3.0)));
  EXPECT_FLOAT_EQ(t[15], float(std::sin(0.03)));
}

TEST(CudaTwins, AttentionOfOneKeyIsItsValueAndRowStatsOfUniformRow) {
  const std::vector<bf16_t> q(64, f32_to_bf16(0.5f)), k(64, f32_to_bf16(1.0f));
  std::vector<bf16_t> v(64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = f32_to_bf16(float(i) - 30.0f);
  const std::vector<int32_t> table = {0}, nk = {1}, start = {0};
  std::vector<bf16_t> out(64);
  host::attention(q.data(), 1, 1, 1, 64,
                  AttentionRows{nk.data(), start.data(), table.data(), 16, 16 * 64}, k.data(),
                  v.data(), out.data());
  EXPECT_EQ(out, v);
  const std::vector<bf16_t> z(1000, f32_to_bf16(2.0f));
  RowStats s;
  host::row_stats(z.data(), 1, 1000, -1, &s);
  EXPECT_EQ(s.argmax, 0);
  EXPECT_NEAR(s.entropy, std::log(1000.0), 1e-5);
  EXPECT_NEAR(s.log_sum_exp, 2.0 + std::log(1000.0), 1e-5);
}

}  // namespace
}  // namespace wedlm::cuda
