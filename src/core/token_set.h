// A set of token ids as a bitset over the vocabulary: what a constrained row may draw
// (constrain/token_masks.h makes them; model/batch.h carries them to the forward).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace wedlm {

struct TokenSet {
  explicit TokenSet(int64_t vocab) : bits(size_t((vocab + 63) / 64), 0) {}
  std::vector<uint64_t> bits;
  int64_t count = 0;  // set bits, after recount()
  bool allows(int64_t id) const {
    return id >= 0 && size_t(id >> 6) < bits.size() && ((bits[size_t(id >> 6)] >> (id & 63)) & 1);
  }
  void set(int64_t id) { bits[size_t(id >> 6)] |= uint64_t(1) << (id & 63); }
  void recount() {
    count = 0;
    for (uint64_t w : bits) count += std::popcount(w);
  }
  int32_t only() const {  // the one token when count == 1, else -1
    if (count != 1) return -1;
    for (size_t w = 0; w < bits.size(); ++w)
      if (bits[w]) return int32_t(w * 64 + size_t(std::countr_zero(bits[w])));
    return -1;
  }
};

}  // namespace wedlm
