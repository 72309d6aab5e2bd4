// Causal attention over the paged KV cache for the CPU backend (Ops::attention).
#pragma once

#include <cstdint>

#include "ops/ops.h"

namespace wedlm {

// Ops::attention's contract. Key-major score tiles with the queries in the vector lanes where
// head_dim is 1, 2, 4 or 8 vectors; row tiles (attend_rows) otherwise. Both sum every query's
// numbers in one fixed order, whatever the other rows: results do not depend on the batch.
void cpu_attention(const float* q, int64_t n, int64_t n_head, int64_t start, const KvLayerView& kv,
                   float* out);

// The row-tile path alone, whatever head_dim (what cpu_attention falls back to); for tests.
void cpu_attention_rows(const float* q, int64_t n, int64_t n_head, int64_t start,
                        const KvLayerView& kv, float* out);

}  // namespace wedlm
