#include "ops/ops.h"

namespace wedlm {

void Ops::gated_matmul(const float* x, int64_t n, const GatedWeight& w, float* out) const {
  std::vector<float> up(static_cast<size_t>(n * w.up.view.rows));
  matmul(x, n, w.gate, out);
  matmul(x, n, w.up, up.data());
  silu_mul(out, up.data(), n * w.gate.view.rows, out);
}

}  // namespace wedlm
