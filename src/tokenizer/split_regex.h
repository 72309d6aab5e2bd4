// The compiled pre-tokenizer regex (PCRE2), shared by the loading and encoding halves of
// Tokenizer. Internal to the tokenizer layer.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/tokenizer.h"

namespace wedlm {

struct Tokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

// GPT-2's pattern: the ByteLevel pre-tokenizer's own regex when its use_regex is on.
inline constexpr const char* kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace wedlm
