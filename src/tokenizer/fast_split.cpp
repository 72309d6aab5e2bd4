#include "tokenizer/fast_split.h"

#include <unicode/uchar.h>

#include "tokenizer/utf8.h"

namespace wedlm {
namespace {

enum : uint8_t { kL = 1, kN = 2, kS = 4, kNL = 8 };  // \p{L}, \p{N}, \s, [\r\n]

uint8_t class_of(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return kL;
    if (cp >= '0' && cp <= '9') return kN;
    if (cp == '\r' || cp == '\n') return kS | kNL;
    return is_white_space(cp) ? kS : 0;
  }
  if (is_white_space(cp)) return kS;
  const uint32_t mask = U_GET_GC_MASK(UChar32(cp));
  return (mask & U_GC_L_MASK) ? kL : (mask & U_GC_N_MASK) ? kN : 0;
}

struct Chars {  // the code points of the text: byte offset (one past the end too) and class
  std::vector<size_t> at;
  std::vector<uint8_t> cls;
  std::vector<uint32_t> cp;
  size_t n = 0;
  bool is(size_t i, uint8_t c) const { return i < n && (cls[i] & c); }
  bool other(size_t i) const { return i < n && !(cls[i] & (kL | kN | kS)); }  // [^\s\p{L}\p{N}]
  uint32_t lower(size_t i) const {  // (?i) for the contraction letters; U+017F folds to s
    if (i >= n) return 0;
    return cp[i] == 0x17f ? 's' : cp[i] < 0x80 ? (cp[i] | 0x20) : cp[i];
  }
};

void decode(std::string_view s, Chars& c) {
  c.at.clear(), c.cls.clear(), c.cp.clear();
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_at(s, i);
    const uint32_t cp = utf8_code_point(s, i, len == 0 ? 1 : len);
    c.at.push_back(i), c.cp.push_back(cp), c.cls.push_back(class_of(cp));
    i += len == 0 ? 1 : len;
  }
  c.n = c.cp.size();
  c.at.push_back(s.size());
}

size_t run(const Chars& c, size_t i, uint8_t cls) {
  while (c.is(i, cls)) ++i;
  return i;
}

size_t run_other(const Chars& c, size_t i) {
  while (c.other(i)) ++i;
  return i;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+ at a whitespace character (`newline_first`: Qwen2 has the first).
size_t whitespace(const Chars& c, size_t i, bool newline_first) {
  const size_t j = run(c, i, kS);
  if (newline_first)
    for (size_t k = j; k-- > i;)
      if (c.is(k, kNL)) return k + 1;
  if (j == c.n || j - i < 2) return j;  // at the end, or a single space before \S
  return j - 1;                         // leave the last space to the next piece
}

size_t contraction(const Chars& c, size_t i, bool caseless) {
  const auto low = [&](size_t k) { return caseless ? c.lower(k) : (k < c.n ? c.cp[k] : 0); };
  const uint32_t a = low(i + 1), b = low(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return i;
}

size_t qwen2_piece(const Chars& c, size_t i) {
  if (c.cp[i] == '\'')
    if (const size_t e = contraction(c, i, true); e > i) return e;
  if (c.is(i, kL)) return run(c, i, kL);
  if (!c.is(i, kNL | kN) && c.is(i + 1, kL)) return run(c, i + 1, kL);  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c.is(i, kN)) return i + 1;
  const size_t k = c.cp[i] == ' ' && c.other(i + 1) ? i + 1 : i;  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  if (c.other(k)) return run(c, run_other(c, k), kNL);
  return whitespace(c, i, true);
}

size_t gpt2_piece(const Chars& c, size_t i) {
  if (c.cp[i] == '\'')
    if (const size_t e = contraction(c, i, false); e > i) return e;
  const size_t k = c.cp[i] == ' ' && i + 1 < c.n ? i + 1 : i;  // the optional leading space
  for (const size_t from : {k, i}) {
    if (c.is(from, kL)) return run(c, from, kL);
    if (c.is(from, kN)) return run(c, from, kN);
    if (c.other(from)) return run_other(c, from);
    if (from == i) break;
  }
  return whitespace(c, i, false);
}

}  // namespace

SplitPattern recognize_split_pattern(std::string_view regex) {
  if (regex == kQwen2Pattern) return SplitPattern::kQwen2;
  if (regex == kByteLevelPattern) return SplitPattern::kGpt2;
  return SplitPattern::kOther;
}

void fast_split(SplitPattern p, std::string_view s, std::vector<std::pair<size_t, size_t>>& out) {
  thread_local Chars c;
  decode(s, c);
  for (size_t i = 0; i < c.n;) {
    const size_t e = p == SplitPattern::kQwen2 ? qwen2_piece(c, i) : gpt2_piece(c, i);
    out.emplace_back(c.at[i], c.at[e]);
    i = e;
  }
}

}  // namespace wedlm
