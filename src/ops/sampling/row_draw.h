// How one logit row's token is drawn: plain data shared by the host (sampling.h) and the device
// kernels (ops/cuda/cuda_kernels.h), which is why it is C++17 with no library types.
#pragma once

#include <cstdint>

namespace wedlm {

// The sampling rule's parameters (sampling.h), the id that is never chosen (the mask) and the
// draw's uniform, made by the request's counter-based RNG (Rng::uniform_at).
struct RowDraw {
  double temperature = 0;  // <= 0: greedy (row_argmax); the rest but `banned` unused
  int64_t top_k = 0;       // 0 = off
  double top_p = 1.0;      // 1 = off
  int64_t banned = -1;     // < 0: none
  double u = 0;            // in [0, 1)
};

}  // namespace wedlm
