// Matching bytes against a Grammar (grammar.h): a State is the set of parser stacks the bytes so
// far leave alive (more than one where an anyOf, an optional property or a number's end is not
// decided yet). Feeding a byte maps each stack to its successors; a State with no stack is dead:
// the bytes are not a prefix of any reply. Stacks are at most kMaxDepth frames (deeper any-JSON
// nesting is refused). Thread safety: plain values over a const Grammar.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/grammar.h"

namespace wedlm::constrain {

inline constexpr size_t kMaxDepth = 64;

enum class FrameKind : uint8_t { kValue, kLit, kStr, kNum, kObj, kArr, kRep };

// One level of a parse: a value of `node` not started yet (kValue) or under way. 24 bytes with no
// padding, so stacks compare and hash as bytes.
struct Frame {
  FrameKind kind = FrameKind::kValue;
  uint8_t phase = 0;
  uint8_t utf8 = 0;    // kStr: continuation bytes still due
  uint8_t escape = 0;  // kStr: after a backslash
  int32_t node = -1;
  int64_t a = 0;  // kLit: bytes matched; kStr: characters; kNum: magnitude; kObj: next property;
                  // kArr, kRep: items begun
  int64_t b = 0;  // kNum: integer digits | fraction digits << 8 | negative << 16
};
static_assert(sizeof(Frame) == 24);

using Stack = std::vector<Frame>;

class State {
 public:
  State() = default;
  static State start(const Grammar& g);  // before any byte
  bool dead() const { return stacks_.empty(); }
  const std::vector<Stack>& stacks() const { return stacks_; }
  // The state after one more byte / after `bytes` (dead once dead).
  State advance(const Grammar& g, uint8_t c) const;
  State advance(const Grammar& g, std::string_view bytes) const;
  // The bytes so far are a whole reply (the end-of-turn token may come now).
  bool can_finish(const Grammar& g) const;
  // The stacks as bytes: equal states have equal keys (mask caches key on it).
  std::string key() const;

 private:
  void normalize();  // sorted, duplicates dropped
  std::vector<Stack> stacks_;
};

}  // namespace wedlm::constrain
