// Every CPU op against its scalar reference twin, on fresh random inputs, for every weight dtype.
// Tolerance: fp32 arithmetic with different reduction orders (fp32 chains vs double sums) on
// O(1) values of length <= 512 stays far below 1e-4 relative; a wrong index or stride is O(1).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "core/dtype.h"
#include "ops/cpu/cpu_attention.h"
#include "ops/cpu/cpu_topology.h"
#include "ops/ops.h"
#include "test_util.h"

namespace wedlm {
namespace {

std::mt19937 rng(1234);

std::vector<float> randn(size_t n) {
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Weight {  // storage + view of a random matrix in one dtype
  std::vector<uint16_t> h;
  std::vector<float> f;
  MatrixView view;
  Weight(DType t, int64_t rows, int64_t cols) {
    f = randn(size_t(rows * cols));
    view = {nullptr, t, rows, cols};
    if (t == DType::kF32) {
      view.data = f.data();
      return;
    }
    for (float x : f) h.push_back(t == DType::kBF16 ? f32_to_bf16(x) : f32_to_f16(x));
    view.data = h.data();
  }
};

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_FALSE(std::isnan(a[i])) << i;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

class OpsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Ops> ref = make_reference_ops(), cpu = make_cpu_ops();
};

TEST_F(OpsTest, MatmulEveryDtypeAndRaggedShapes) {
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16})
    for (auto [n, m, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {1, 7, 13}, {5, 64, 96}, {33, 130, 256}, {4, 4, 8}}) {
      Weight w(t, m, k);
      auto x = randn(size_t(n * k));
      std::vector<float> a(size_t(n * m), NAN), b(size_t(n * m), NAN);  // poisoned outputs
      cpu->matmul(x.data(), n, w.view, a.data());
      ref->matmul(x.data(), n, w.view, b.data());
      EXPECT_LT(rel_err(a, b), 1e-5) << dtype_name(t) << " " << n << "x" << m << "x" << k;
    }
}

// Every row count from 1 to 14 and 30 (each tile height and panel count the matmul has, alone
// and in several tiles) must give each row the bits it gets alone; m = 200 ends in a part panel.
TEST_F(OpsTest, MatmulRowsDoNotDependOnBatchSize) {
  constexpr int64_t m = 200;
  for (const int64_t k : {128, 100})
    for (DType t : {DType::kBF16, DType::kF32, DType::kF16}) {
      Weight w(t, m, k);
      const MatmulWeight prepared = cpu->prepare_matmul(w.view);
      auto x = randn(size_t(30 * k));
      std::vector<float> alone(30 * m), many(30 * m);
      for (int64_t i = 0; i < 30; ++i)
        cpu->matmul(x.data() + i * k, 1, prepared, alone.data() + i * m);
      for (const int64_t n : {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 30}) {
        std::fill(many.begin(), many.end(), NAN);
        cpu->matmul(x.data(), n, prepared, many.data());
        for (int64_t j = 0; j < n * m; ++j)
          ASSERT_EQ(many[size_t(j)], alone[size_t(j)])
              << dtype_name(t) << " k " << k << " n " << n << " row " << j / m << " col " << j % m;
      }
    }
}

// A weight the CPU backend did not prepare (the reference backend's, or a bare view) is packed for
// the call and gives the same bits as the prepared one.
TEST_F(OpsTest, MatmulPreparesAForeignWeightForTheCall) {
  Weight w(DType::kBF16, 70, 48);
  auto x = randn(size_t(5 * 48));
  std::vector<float> a(5 * 70, NAN), b(5 * 70, NAN), c(5 * 70, NAN);
  cpu->matmul(x.data(), 5, cpu->prepare_matmul(w.view), a.data());
  cpu->matmul(x.data(), 5, ref->prepare_matmul(w.view), b.data());
  cpu->matmul(x.data(), 5, w.view, c.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

// The MLP's gate and up fused (silu(gate) * up in the tile's registers) must give the bits of two
// matmuls and silu_mul, for every tile height, and be near the reference; a pair prepared by
// another backend takes that default path.
TEST_F(OpsTest, GatedMatmulIsTwoMatmulsAndSiluBitForBit) {
  constexpr int64_t m = 200, k = 72;
  for (DType t : {DType::kBF16, DType::kF32}) {
    Weight gate(t, m, k), up(t, m, k);
    const GatedWeight fused = cpu->prepare_gated(gate.view, up.view);
    const GatedWeight apart = ref->prepare_gated(gate.view, up.view);
    auto x = randn(size_t(30 * k));
    for (const int64_t n : {1, 2, 3, 5, 7, 12, 13, 30}) {
      const size_t size = size_t(n * m);
      std::vector<float> got(size, NAN), g(size), u(size), want(size);
      cpu->gated_matmul(x.data(), n, fused, got.data());
      cpu->matmul(x.data(), n, gate.view, g.data());
      cpu->matmul(x.data(), n, up.view, u.data());
      cpu->silu_mul(g.data(), u.data(), n * m, want.data());
      ASSERT_EQ(got, want) << dtype_name(t) << " n " << n;
      std::vector<float> other(got.size(), NAN), slow(got.size(), NAN);
      cpu->gated_matmul(x.data(), n, apart, other.data());
      EXPECT_EQ(other, want) << dtype_name(t) << " n " << n;
      ref->gated_matmul(x.data(), n, apart, slow.data());
      EXPECT_LT(rel_err(got, slow), 1e-5) << dtype_name(t) << " n " << n;
    }
  }
}

TEST_F(OpsTest, RmsNormRopeSilu) {
  Weight w(DType::kBF16, 1, 64);
  auto x = randn(6 * 64);
  std::vector<float> a(x.size(), NAN), b(x.size(), NAN);
  cpu->rms_norm(x.data(), 6, w.view, 1e-6f, a.data());
  ref->rms_norm(x.data(), 6, w.view, 1e-6f, b.data());
  EXPECT_LT(rel_err(a, b), 1e-6);
  const std::vector<int64_t> pos = {0, 5, 3, 4000, 17, 1};
  a = x;
  b = x;
  RopeAngles angles;  // the CPU reads its table, the reference computes its own angles
  angles.set(pos.data(), 6, 32, 1e6);
  cpu->rope(a.data(), 2, angles);
  ref->rope(b.data(), 2, angles);
  EXPECT_LT(rel_err(a, b), 1e-6);
  EXPECT_EQ(a[0], x[0]) << "position 0 is the identity";
  auto g = randn(300), u = randn(300);
  std::vector<float> sa(300), sb(300);
  cpu->silu_mul(g.data(), u.data(), 300, sa.data());
  ref->silu_mul(g.data(), u.data(), 300, sb.data());
  EXPECT_LT(rel_err(sa, sb), 1e-6);
}

// A paged cache with a scrambled block table, GQA, rows on top of a cached prefix. Shapes cover
// both CPU paths: key-major tiles (head_dim 16, 64, 128: 1, 4 and 8 vectors of 16 lanes; 16 and
// 64 also with 8 lanes, where 128 takes row tiles) and row tiles (head_dim 24), several query
// groups (n = 70), GQA 1, 2, 4.
struct AttentionCase {
  int64_t n_head, n_kv, D, start, n;
};

class PagedAttention : public OpsTest {
 protected:
  void prepare(const AttentionCase& cs) {
    c = cs;
    table.clear();
    const int64_t slots = c.start + c.n, blocks = (slots + kBs - 1) / kBs;
    std::vector<int32_t> physical(size_t(blocks + 2));  // scrambled, two blocks unused
    for (size_t b = 0; b < physical.size(); ++b) physical[b] = int32_t(b);
    std::shuffle(physical.begin(), physical.end(), rng);
    table.assign(physical.begin(), physical.begin() + blocks);
    kbuf.assign(size_t((blocks + 2) * kBs * c.n_kv * c.D), NAN);
    vbuf.assign(kbuf.size(), NAN);
    kv = KvLayerView{kbuf.data(), vbuf.data(), table.data(), kBs, kBs * c.n_kv * c.D, c.n_kv, c.D};
    auto kp = randn(size_t(c.start * c.n_kv * c.D)), vp = randn(kp.size());
    ref->store_kv(kp.data(), vp.data(), c.start, 0, kv);  // the cached prefix
    k = randn(size_t(c.n * c.n_kv * c.D)), v = randn(k.size());
    q = randn(size_t(c.n * c.n_head * c.D));
    cpu->store_kv(k.data(), v.data(), c.n, c.start, kv);
  }
  static constexpr int64_t kBs = 4;
  AttentionCase c{};
  std::vector<int32_t> table;
  std::vector<float> kbuf, vbuf, k, v, q;
  KvLayerView kv{};
};

TEST_F(PagedAttention, BothCpuPathsMatchTheReferenceAndAreBatchInvariant) {
  const AttentionCase cases[] = {{4, 2, 16, 9, 7},  {4, 2, 64, 33, 70}, {8, 2, 128, 5, 30},
                                 {2, 2, 64, 0, 17}, {4, 2, 24, 9, 7},   {6, 3, 24, 40, 13}};
  for (const AttentionCase& cs : cases) {
    prepare(cs);
    const std::string what = "n_head " + std::to_string(c.n_head) + " D " + std::to_string(c.D) +
                             " n " + std::to_string(c.n);
    const size_t width = size_t(c.n_head * c.D);
    std::vector<float> a(q.size(), NAN), rows(q.size(), NAN), b(q.size(), NAN);
    cpu->attention(q.data(), c.n, c.n_head, c.start, kv, a.data());
    cpu_attention_rows(q.data(), c.n, c.n_head, c.start, kv, rows.data());
    ref->attention(q.data(), c.n, c.n_head, c.start, kv, b.data());
    EXPECT_LT(rel_err(a, b), 1e-5) << what;
    EXPECT_LT(rel_err(rows, b), 1e-5) << what;
    for (const int64_t i : {int64_t(0), c.n / 2, c.n - 1}) {  // a row alone: the same numbers
      std::vector<float> one(width, NAN);
      cpu->attention(q.data() + size_t(i) * width, 1, c.n_head, c.start + i, kv, one.data());
      for (size_t e = 0; e < width; ++e)
        ASSERT_EQ(one[e], a[size_t(i) * width + e]) << what << " row " << i;
    }
    // Row 0 must not see row 1's key: changing it leaves row 0 unchanged.
    std::vector<float> k2 = k, a2(q.size(), NAN);
    for (int64_t e = 0; e < c.n_kv * c.D; ++e) k2[size_t(c.n_kv * c.D + e)] += 5.0f;
    cpu->store_kv(k2.data(), v.data(), c.n, c.start, kv);
    cpu->attention(q.data(), c.n, c.n_head, c.start, kv, a2.data());
    for (size_t e = 0; e < width; ++e) ASSERT_EQ(a2[e], a[e]) << what;
    EXPECT_NE(a2[width], a[width]) << what << ": row 1 sees its own key";
  }
}

}  // namespace
}  // namespace wedlm

namespace wedlm {
namespace {

// Four CPUs, two cores with two hyper-threads each (cpu0 and cpu2 share core 0), and a CPU
// without topology files: the default thread count is one per physical core.
TEST(CpuTopology, CountsPhysicalCoresNotHyperThreads) {
  const std::string root = test::temp_dir();
  const int core_of[] = {0, 1, 0, 1};
  for (int cpu = 0; cpu < 4; ++cpu) {
    const std::string dir = root + "/cpu" + std::to_string(cpu) + "/topology";
    std::filesystem::create_directories(dir);
    test::write_text(dir + "/physical_package_id", "0\n");
    test::write_text(dir + "/core_id", std::to_string(core_of[cpu]) + "\n");
  }
  EXPECT_EQ(physical_cores_of({0, 1, 2, 3}, root), 2);
  EXPECT_EQ(physical_cores_of({0, 2}, root), 1) << "two threads of one core";
  EXPECT_EQ(physical_cores_of({0, 1, 2, 3, 4}, root), 3) << "cpu4 has no topology: its own core";
  EXPECT_EQ(physical_cores_of({}, root), 1);
  EXPECT_GE(physical_cpu_cores(), 1);
}

}  // namespace
}  // namespace wedlm
