#include "tokenizer/utf8.h"

#include <utf8proc.h>

#include <cstdlib>

namespace wedlm {

size_t utf8_sequence_at(std::string_view s, size_t i, bool* truncated) {
  if (truncated) *truncated = false;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte (Unicode Table 3-7)
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= s.size()) {
      if (truncated) *truncated = true;
      return 0;
    }
    const unsigned char b = byte(i + k);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return 0;
  }
  return n;
}

uint32_t utf8_code_point(std::string_view s, size_t i, size_t n) {
  const auto byte = [&](size_t k) { return uint32_t(static_cast<unsigned char>(s[i + k])); };
  if (n == 1) return byte(0);
  uint32_t cp = byte(0) & (0x7fu >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (byte(k) & 0x3f);
  return cp;
}

bool is_ascii(std::string_view s) {
  unsigned char any = 0;
  for (unsigned char c : s) any |= c;
  return any < 0x80;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_at(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool append_nfc(std::string_view s, std::string& out) {
  utf8proc_uint8_t* nfc = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), utf8proc_ssize_t(s.size()),
                   &nfc, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n >= 0) out.append(reinterpret_cast<char*>(nfc), size_t(n));
  std::free(nfc);
  return n >= 0;
}

bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000;
}

// Length of the maximal subpart of an ill-formed sequence at s[i]: the lead byte and the
// continuation bytes that a well-formed sequence could still have had (at least 1).
static size_t maximal_subpart(std::string_view s, size_t i) {
  size_t k = 1;
  while (i + k < s.size() && k < 4) {
    std::string_view head = s.substr(i, k + 1);
    bool truncated = false;
    utf8_sequence_at(head, 0, &truncated);
    if (!truncated) break;
    ++k;
  }
  return k;
}

size_t utf8_lossy_settled(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    bool truncated = false;
    const size_t n = utf8_sequence_at(s, i, &truncated);
    if (truncated) break;  // may still become valid: wait for more bytes
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      i += maximal_subpart(s, i);
    }
  }
  return i;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  if (utf8_lossy_settled(s, out) < s.size()) out += "\xef\xbf\xbd";  // an unfinished sequence
  return out;
}

size_t complete_utf8_prefix(std::string_view s) {
  size_t i = s.size(), back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xc0) == 0x80) --i, ++back;
  if (i == 0) return s.size();
  const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  const size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? i - 1 : s.size();
}

}  // namespace wedlm
