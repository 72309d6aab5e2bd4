// The device forward (CudaModel) against the CPU forward (Model, fp32) on the bundled model: a
// prefill, then a WeDLM-style step of two sequences in one batch. Skipped without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "bundled_model.h"
#include "model/cuda_model.h"
#include "ops/cuda/cuda_device.h"

namespace wedlm {
namespace {

// A chat prompt of the bundled model ("Count from 119 to 160.").
const std::vector<int32_t> kPrompt = {2011, 268, 198, 351, 334, 220,  16,  16,   24,  319,
                                      220,  16,  21,  15,  13,  2012, 198, 2011, 263, 198};

std::vector<int64_t> iota_from(int64_t a, int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), a);
  return v;
}

std::vector<int32_t> all_rows(int64_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// Every logit row's logits from `f` (each row of the batch asks for them).
// Each layer's largest |cpu - device| over the largest |cpu|, printed (device_test.sh collects
// the lines): where the two forwards drift apart, in one run.
void print_layer_gaps(const LayerTrace& cpu, const LayerTrace& gpu) {
  for (size_t i = 0; i < cpu.layers().size() && i < gpu.layers().size(); ++i) {
    const auto &a = cpu.layers()[i].values, &b = gpu.layers()[i].values;
    double gap = 0, mag = 0;
    for (size_t j = 0; j < a.size() && j < b.size(); ++j)
      gap = std::max(gap, std::fabs(double(a[j]) - b[j])),
      mag = std::max(mag, std::fabs(double(a[j])));
    std::printf("cpu-vs-device layer %lld: largest gap %.3g of the largest value %.3g (%.2f%%)\n",
                static_cast<long long>(cpu.layers()[i].layer), gap, mag,
                mag > 0 ? 100 * gap / mag : 0.0);
  }
}

std::vector<float> all_logits(Forward& f, Batch b) {
  for (RowRequest& q : b.requests) q.wants_logits = true;
  StepOutput out;
  f.forward(b, out);
  return out.logits;
}

// The picks `f` makes of the batch's logit rows under `draws` (no logits asked).
std::vector<RowPick> picks_of(Forward& f, Batch b, const std::vector<RowDraw>& draws) {
  for (size_t r = 0; r < draws.size(); ++r) b.requests[r] = RowRequest{draws[r], false};
  StepOutput out;
  f.forward(b, out);
  EXPECT_TRUE(out.logits.empty()) << "no row asked for its logits";
  return out.picks;
}

// bf16 activations round at every stage (~2^-9 each) through 8 layers: the logits of the two
// forwards differ by about 1% in norm; greedy choices agree except near ties.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, int64_t vocab,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << what << " element " << i;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  EXPECT_LT(std::sqrt(num / den), 3e-2) << what;
  const size_t rows = got.size() / size_t(vocab);
  size_t same = 0;
  for (size_t r = 0; r < rows; ++r) {
    auto g = got.begin() + r * vocab, w = want.begin() + r * vocab;
    same += std::max_element(g, g + vocab) - g == std::max_element(w, w + vocab) - w;
  }
  EXPECT_GE(double(same), 0.9 * double(rows)) << what << ": " << same << "/" << rows;
}

TEST(CudaModel, PrefillAndABatchedWeDLMStepMatchTheCpuForward) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: device forward test skipped";
  static test::BundledModel bm;
  const ModelConfig& c = bm.ck->config();
  const int64_t bs = 16, P = int64_t(kPrompt.size());
  KvCache cpu_cache(c, 8, bs);
  CudaModel gpu(*bm.ck, 8, bs);
  const std::vector<int32_t> t1 = {5, 2, 7}, t2 = {0, 6, 3};  // shuffled blocks, two sequences
  std::vector<float> want, got;
  // prefill both sequences (the second one a prefix of the first), logits of every row
  for (const auto* t : {&t1, &t2}) {
    const int64_t n = t == &t1 ? P : P - 5;
    const std::span<const int32_t> ids(kPrompt.data(), size_t(n));
    Batch b;
    b.add(ids, iota_from(0, n), 0, *t, all_rows(n));
    bm.model->forward(b, cpu_cache, want);
    got = all_logits(gpu, b);
    expect_close(got, want, c.vocab_size, "prefill");
  }
  // a step: sequence 1 commits 3 tokens and has 16 masks, sequence 2 has 16 masks
  const int32_t mask = int32_t(c.mask_token_id);
  std::vector<int32_t> s1 = {16, 16, 24}, s2(16, mask);
  s1.insert(s1.end(), 16, mask);
  std::vector<int32_t> rows1 = all_rows(19);
  rows1.erase(rows1.begin(), rows1.begin() + 3);
  Batch step;
  step.add(s1, iota_from(P, 19), P, t1, rows1);
  step.add(s2, iota_from(P - 5, 16), P - 5, t2, all_rows(16));
  LayerTrace on_cpu, on_gpu;  // each layer's rows, so a departure is named by its layer
  const LayerObserver cpu_observer = on_cpu.recorder();
  bm.model->forward(step, cpu_cache, want, &cpu_observer);
  gpu.set_layer_observer(on_gpu.recorder());
  got = all_logits(gpu, step);
  gpu.set_layer_observer({});
  expect_close(got, want, c.vocab_size, "step");
  ASSERT_EQ(on_gpu.layers().size(), size_t(c.n_layer + 1));
  const auto departs = LayerTrace::first_departure(on_cpu, on_gpu, 0.05);
  EXPECT_FALSE(departs.has_value()) << "the device departs from the CPU at layer " << *departs;
  print_layer_gaps(on_cpu, on_gpu);  // the whole run's picture, departing or not
  // the same step's picks made on the device (the step's KV rows are rewritten with the same
  // values, so running it again changes nothing): greedy ones against the CPU's logits, sampled
  // ones against the host's sample_row on the device's own logits
  const int64_t V = c.vocab_size;
  std::vector<RowDraw> greedy(step.logit_rows.size(), RowDraw{0.0, 0, 1.0, c.mask_token_id, 0});
  std::vector<RowPick> picks = picks_of(gpu, step, greedy);
  ASSERT_EQ(picks.size(), step.logit_rows.size());
  size_t same = 0;
  for (size_t r = 0; r < picks.size(); ++r) {
    const RowPick cpu = pick_row(want.data() + r * V, V, greedy[r]);
    same += picks[r].token == cpu.token;
    EXPECT_NE(picks[r].token, c.mask_token_id);
    EXPECT_NEAR(picks[r].entropy, cpu.entropy, 0.05) << "row " << r;  // bf16 activations
  }
  EXPECT_GE(double(same), 0.9 * double(picks.size()));
  std::vector<RowDraw> sampled;
  for (size_t r = 0; r < step.logit_rows.size(); ++r)
    sampled.push_back(RowDraw{0.5 + 0.1 * double(r % 5), int64_t(r % 3) * 20, r % 2 ? 0.9 : 1.0,
                              c.mask_token_id, double(r) / double(step.logit_rows.size())});
  picks = picks_of(gpu, step, sampled);
  for (size_t r = 0; r < picks.size(); ++r)
    EXPECT_EQ(picks[r].token, sample_row(got.data() + r * V, V, sampled[r])) << "row " << r;
  // every other row asks for its logits (a request with logprobs among others): those rows come
  // back, in logit-row order, equal to the same rows of a forward that gave every row's
  Batch mixed = step;
  for (size_t r = 0; r < mixed.requests.size(); ++r) mixed.requests[r].wants_logits = r % 2 == 1;
  StepOutput out;
  gpu.forward(mixed, out);
  ASSERT_EQ(out.logits.size(), (mixed.requests.size() / 2) * size_t(V));
  for (size_t r = 0; r < mixed.requests.size(); ++r) {
    if (r % 2 == 0) {
      EXPECT_EQ(out.logits_index[r], -1);
      continue;
    }
    const float* row = out.logits_of(r, V);
    EXPECT_TRUE(std::equal(row, row + V, got.data() + r * V)) << "row " << r;
  }
}

}  // namespace
}  // namespace wedlm

namespace wedlm {
namespace {

// CUDA graphs (--cuda-graphs) replay exactly what eager launches compute: the same batches
// through two models, a step shape seen once (eager), twice (captured) and three times (replayed).
TEST(CudaModel, GraphReplaysGiveTheEagerLogitsBitForBit) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: device forward test skipped";
  static test::BundledModel bm;
  const ModelConfig& c = bm.ck->config();
  CudaModel eager(*bm.ck, 8, 16);
  CudaModel graphed(*bm.ck, 8, 16, CudaOptions{true, false});
  const std::vector<int32_t> table = {4, 1, 6, 0};
  const int64_t P = int64_t(kPrompt.size());
  std::vector<Batch> batches(4);
  batches[0].add(kPrompt, iota_from(0, P), 0, table, {});
  for (int64_t s = 1; s <= 3; ++s) {  // three steps of one shape: 2 committed + 16 masks
    std::vector<int32_t> ids = {int32_t(16 + s), int32_t(11)};
    ids.insert(ids.end(), 16, int32_t(c.mask_token_id));
    const int64_t at = P + 2 * (s - 1);
    std::vector<int32_t> rows = all_rows(18);
    rows.erase(rows.begin(), rows.begin() + 2);
    batches[size_t(s)].add(ids, iota_from(at, 18), at, table, rows);
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(all_logits(eager, batches[i]), all_logits(graphed, batches[i])) << "forward " << i;
  }
  // an observer on a model with a captured graph: that shape runs eagerly while it is set (a
  // copy back inside a capture would fail), with the same logits
  LayerTrace trace;
  graphed.set_layer_observer(trace.recorder());
  std::vector<float> observed = all_logits(graphed, batches[3]);
  graphed.set_layer_observer({});
  EXPECT_EQ(trace.layers().size(), size_t(c.n_layer + 1));
  EXPECT_EQ(observed, all_logits(eager, batches[3]));
}

}  // namespace
}  // namespace wedlm

namespace wedlm {
namespace {

// --cuda-tiled-attention: a segment's whole 64-row tiles attend with the tiled tensor-core kernel,
// its other rows and the shorter segments with the decode kernel, in the same forward (here 128
// of a 150-row prefill tiled, its last 22 rows and a 17-row segment grouped). Its bf16
// probabilities move the logits by well under the bf16-vs-fp32 gap tested above.
TEST(CudaModel, TiledAttentionForwardAgreesWithTheDefault) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: device forward test skipped";
  static test::BundledModel bm;
  CudaModel plain(*bm.ck, 16, 16);
  CudaModel tiled(*bm.ck, 16, 16, CudaOptions{false, true});
  std::vector<int32_t> ids;  // 150 tokens: the chat prompt, repeated
  while (ids.size() < 150) ids.insert(ids.end(), kPrompt.begin(), kPrompt.end());
  ids.resize(150);
  std::vector<int32_t> table(10);  // blocks 0-9; the short segment has 12 and 13
  std::iota(table.begin(), table.end(), 0);
  Batch b;
  b.add(ids, iota_from(0, 150), 0, table, all_rows(150));
  const std::vector<int32_t> short_table = {12, 13};
  b.add(std::span(ids).subspan(5, 17), iota_from(0, 17), 0, short_table, all_rows(17));
  const std::vector<float> want = all_logits(plain, b), got = all_logits(tiled, b);
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-2);
}

}  // namespace
}  // namespace wedlm
