// UTF-8 helpers of the tokenizer layer: validity, code points, Unicode White_Space, and lossy
// conversion of token bytes to text the way Hugging Face decodes (Rust's String::from_utf8_lossy:
// each maximal invalid subpart becomes one U+FFFD).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wedlm {

// Length of the well-formed UTF-8 sequence at s[i] (1-4), or 0 when s[i] does not start one.
// `truncated` is set when the bytes so far are a valid prefix that runs off the end of s.
size_t utf8_sequence_at(std::string_view s, size_t i, bool* truncated = nullptr);
// The code point of a well-formed sequence of length n at s[i].
uint32_t utf8_code_point(std::string_view s, size_t i, size_t n);
// Every byte < 0x80 (so valid UTF-8, and already NFC).
bool is_ascii(std::string_view s);
bool is_valid_utf8(std::string_view s);
// Appends the NFC form of `s` (by length: U+0000 is a character like any other); false, with
// `out` unchanged, when `s` is not valid UTF-8.
bool append_nfc(std::string_view s, std::string& out);
// Unicode White_Space (what Rust's char::is_whitespace and so HF's lstrip/rstrip use).
bool is_white_space(uint32_t cp);
// Bytes -> valid UTF-8, each maximal invalid subpart replaced by U+FFFD.
std::string utf8_lossy(std::string_view bytes);
// Appends the lossy text of the longest prefix of `bytes` that later bytes cannot change and
// returns its length; what is left is the start of a valid sequence cut off by the end.
size_t utf8_lossy_settled(std::string_view bytes, std::string& out);
// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence (streaming output
// holds the rest back until its continuation bytes arrive).
size_t complete_utf8_prefix(std::string_view s);

}  // namespace wedlm
