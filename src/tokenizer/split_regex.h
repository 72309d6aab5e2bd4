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

}  // namespace wedlm
