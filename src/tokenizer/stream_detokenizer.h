// Incremental detokenizer for streaming: feed ids as they are generated, get text that never ends
// inside a UTF-8 sequence (unfinished bytes are held back until their continuation arrives).
// The concatenation of every push() and finish() equals Tokenizer::decode of all the ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace wedlm {

class StreamDetokenizer {
 public:
  StreamDetokenizer(const Tokenizer& tok, bool skip_special)
      : tok_(&tok), skip_special_(skip_special) {}
  // The text that these ids complete. Unknown ids are a Status and change nothing.
  Result<std::string> push(std::span<const int32_t> ids);
  // The held-back bytes at the end of the stream (an unfinished sequence becomes U+FFFD).
  std::string finish();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::string pending_;  // bytes not yet emitted: the start of an unfinished UTF-8 sequence
};

}  // namespace wedlm
