// The seam between decoding and compute (model/batch.h, model/forward.h): a forward answers every
// logit row with its pick and only the rows that asked with their logits; a LayerTrace names the
// first layer at which two forwards part.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "bundled_model.h"
#include "model/forward.h"
#include "model/op_times.h"

namespace wedlm {
namespace {

// The CPU ops, except that the matmul by one weight (found by its data) gets `delta` added to
// every output: a forward that departs from the true one at that weight's layer.
class PerturbingOps final : public Ops {
 public:
  PerturbingOps(const Ops& base, const void* target, float delta)
      : base_(base), target_(target), delta_(delta) {}
  const char* name() const override { return "perturbing"; }
  MatmulWeight prepare_matmul(const MatrixView& w) const override {
    return base_.prepare_matmul(w);
  }
  void matmul(const float* x, int64_t n, const MatmulWeight& w, float* y) const override {
    base_.matmul(x, n, w, y);
    if (w.view.data == target_)
      for (int64_t i = 0; i < n * w.view.rows; ++i) y[i] += delta_;
  }
  GatedWeight prepare_gated(const MatrixView& gate, const MatrixView& up) const override {
    return base_.prepare_gated(gate, up);
  }
  void gated_matmul(const float* x, int64_t n, const GatedWeight& w, float* out) const override {
    base_.gated_matmul(x, n, w, out);
  }
  void rms_norm(const float* x, int64_t n, const MatrixView& w, float eps,
                float* y) const override {
    base_.rms_norm(x, n, w, eps, y);
  }
  void rope(float* x, int64_t n_head, const RopeAngles& a) const override {
    base_.rope(x, n_head, a);
  }
  void store_kv(const float* k, const float* v, int64_t n, int64_t start,
                const KvLayerView& kv) const override {
    base_.store_kv(k, v, n, start, kv);
  }
  void attention(const float* q, int64_t n, int64_t n_head, int64_t start, const KvLayerView& kv,
                 float* out) const override {
    base_.attention(q, n, n_head, start, kv, out);
  }
  void silu_mul(const float* gate, const float* up, int64_t n, float* out) const override {
    base_.silu_mul(gate, up, n, out);
  }

 private:
  const Ops& base_;
  const void* target_;
  float delta_;
};

// 20 prompt rows of one sequence, the last three with logits.
Batch prompt_batch(const std::vector<int32_t>& table, std::vector<RowRequest> requests = {}) {
  static const std::vector<int32_t> ids = {2011, 268, 198, 351, 334, 220,  16,  16,   24,  319,
                                           220,  16,  21,  15,  13,  2012, 198, 2011, 263, 198};
  std::vector<int64_t> pos(ids.size());
  std::iota(pos.begin(), pos.end(), 0);
  Batch b;
  b.add(ids, pos, 0, table, std::vector<int32_t>{17, 18, 19}, requests);
  return b;
}

const std::vector<int32_t> kTable = {0, 1};

TEST(LayerTrace, SeesEveryRowThenTheLogitRowsAndNamesTheFirstLayerThatDeparts) {
  static test::BundledModel bm;
  const ModelConfig& c = bm.ck->config();
  ASSERT_GE(c.n_layer, 4);
  CpuForward plain(*bm.model, 4, 16);
  LayerTrace want;
  plain.set_layer_observer(want.recorder());
  StepOutput out;
  plain.forward(prompt_batch(kTable), out);
  ASSERT_EQ(want.layers().size(), size_t(c.n_layer + 1));
  for (const LayerTrace::Layer& l : want.layers()) {
    const size_t rows = l.layer + 1 < c.n_layer ? 20 : 3;  // the last layer: logit rows only
    ASSERT_EQ(l.rows.size(), rows) << "layer " << l.layer;
    EXPECT_EQ(l.rows.back(), 19) << "layer " << l.layer;  // every row, or the logit rows 17-19
    EXPECT_EQ(l.values.size(), rows * size_t(c.hidden_size));
  }
  CpuForward again(*bm.model, 4, 16);  // the same forward elsewhere: nothing departs
  LayerTrace same;
  again.set_layer_observer(same.recorder());
  again.forward(prompt_batch(kTable), out);
  EXPECT_FALSE(LayerTrace::first_departure(want, same, 0).has_value());
  for (const int64_t k : {int64_t(0), c.n_layer / 2, c.n_layer - 1}) {
    PerturbingOps ops(*bm.ops, bm.ck->weights().layers[size_t(k)].down->data, 1e-3f);
    Model model(*bm.ck, ops);
    CpuForward bent(model, 4, 16);
    LayerTrace got;
    bent.set_layer_observer(got.recorder());
    bent.forward(prompt_batch(kTable), out);
    const auto at = LayerTrace::first_departure(want, got, 1e-6);
    ASSERT_TRUE(at.has_value()) << "a change in layer " << k << " went unseen";
    EXPECT_EQ(*at, k);
  }
}

// Picks for every logit row; logits for the rows that asked only, in logit-row order, equal to
// those of a forward that gave every row's.
TEST(StepOutput, LogitsOnlyForTheRowsThatAskedAndPicksForAll) {
  static test::BundledModel bm;
  const int64_t V = bm.ck->config().vocab_size;
  const int64_t mask = bm.ck->config().mask_token_id;
  std::vector<RowRequest> every(3, RowRequest{RowDraw{0, 0, 1, mask, 0}, true});
  CpuForward a(*bm.model, 4, 16), b(*bm.model, 4, 16);
  StepOutput all, some;
  a.forward(prompt_batch(kTable, every), all);
  ASSERT_EQ(all.logits.size(), size_t(3 * V));
  std::vector<RowRequest> middle = every;
  middle[0].wants_logits = middle[2].wants_logits = false;
  middle[2].draw = RowDraw{1.0, 0, 1.0, mask, 0.5};  // a sampled row
  b.forward(prompt_batch(kTable, middle), some);
  ASSERT_EQ(some.picks.size(), 3u);
  EXPECT_EQ(some.logits_index, (std::vector<int32_t>{-1, 0, -1}));
  ASSERT_EQ(some.logits.size(), size_t(V));
  EXPECT_TRUE(std::equal(some.logits.begin(), some.logits.end(), all.logits_of(1, V)));
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(some.picks[r].token, sample_row(all.logits_of(r, V), V, middle[r].draw));
    EXPECT_EQ(some.picks[r].entropy, row_entropy(all.logits_of(r, V), V));
  }
}

// --cuda-op-times' table (the CUDA forward feeds it from events; the arithmetic is host code):
// means per forward, by row count, largest operation first, with shares of the forward.
TEST(OpTimes, MeansPerForwardByRowCountLargestFirst) {
  OpTimes t;
  EXPECT_EQ(t.report(), "");
  const int gemm = t.label("gemm q 17x4096x4096"), attn = t.label("attention");
  EXPECT_EQ(t.label("gemm q 17x4096x4096"), gemm) << "a name keeps its id";
  EXPECT_NE(gemm, attn);
  std::vector<double> ms(2);
  ms[size_t(gemm)] = 3.0, ms[size_t(attn)] = 1.0;
  t.add_forward(17, ms);
  ms[size_t(gemm)] = 5.0, ms[size_t(attn)] = 3.0;
  t.add_forward(17, ms);
  t.add_forward(1, {0.0, 0.5});  // a forward that ran no GEMM of that name
  const std::string r = t.report();
  EXPECT_NE(r.find("forwards of 1 rows: 1 timed, 0.500 ms each"), std::string::npos) << r;
  EXPECT_NE(r.find("forwards of 17 rows: 2 timed, 6.000 ms each"), std::string::npos) << r;
  EXPECT_NE(r.find("| gemm q 17x4096x4096 | 4.000 | 66.7% |"), std::string::npos) << r;
  EXPECT_NE(r.find("| attention | 2.000 | 33.3% |"), std::string::npos) << r;
  const size_t rows17 = r.find("forwards of 17");
  EXPECT_LT(r.find("| gemm q", rows17), r.find("| attention", rows17)) << "largest first";
  EXPECT_EQ(r.find("| gemm q"), r.find("| gemm q", rows17)) << "no zero rows for 1-row forwards";
}

TEST(OpTimes, TheCpuForwardMeasuresNothing) {
  static test::BundledModel bm;
  CpuForward f(*bm.model, 4, 16);
  EXPECT_EQ(f.profile(), "");
}

}  // namespace
}  // namespace wedlm
