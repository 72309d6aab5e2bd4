// Hand-written matchers for the two split regexes of Qwen tokenizers: Qwen2's pattern (Qwen2,
// Qwen2.5, Qwen3) and GPT-2's (the ByteLevel pre-tokenizer's own). They follow the regexes'
// leftmost-first alternation exactly, on ICU's Unicode tables for \p{L} and \p{N} (Unicode 15 on
// Debian 12; PCRE2 10.42 knows Unicode 14) and Unicode White_Space for \s, which is what
// Oniguruma, HF tokenizers' regex engine, means by \s.
// The PCRE2 path in Tokenizer is the reference twin; tests compare the two.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace wedlm {

// Qwen2's split regex (Qwen2, Qwen2.5, Qwen3 tokenizer.json files).
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2's: the ByteLevel pre-tokenizer's own regex when its use_regex is on.
inline constexpr const char* kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class SplitPattern { kOther, kQwen2, kGpt2 };

// Which matcher implements `regex` (the pattern string of tokenizer.json), if any.
SplitPattern recognize_split_pattern(std::string_view regex);

// Appends the [begin, end) byte ranges of the pieces of `s` (valid UTF-8) in order; together
// they cover `s`.
void fast_split(SplitPattern p, std::string_view s, std::vector<std::pair<size_t, size_t>>& out);

}  // namespace wedlm
