#include <cmath>

#include "ops/ops.h"

namespace wedlm {

void RopeAngles::set(const int64_t* positions, int64_t rows, int64_t dim, double base) {
  pos = positions;
  n = rows;
  head_dim = dim;
  theta = base;
  const int64_t half = dim / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t k = 0; k < half; ++k) inv[size_t(k)] = 1.0 / std::pow(base, 2.0 * k / double(dim));
  cos_sin.resize(static_cast<size_t>(rows * dim));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < half; ++k) {
      const double ang = double(positions[i]) * inv[size_t(k)];
      cos_sin[size_t(i * dim + k)] = float(std::cos(ang));
      cos_sin[size_t(i * dim + half + k)] = float(std::sin(ang));
    }
}

}  // namespace wedlm
