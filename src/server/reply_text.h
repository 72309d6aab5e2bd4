// The reply text of one request as it streams: committed tokens are detokenized incrementally
// (never cutting a UTF-8 sequence) and text that might be the start of a stop string is held back
// until it is known not to be, so a streaming client never sees any part of a stop string. At the
// end the text is cut where the engine found the stop string. The concatenation of everything
// push() and finish() return equals the non-streamed reply.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/stream_detokenizer.h"

namespace wedlm::server {

class ReplyText {
 public:
  ReplyText(const Tokenizer& tok, std::vector<std::string> stops)
      : detok_(tok, /*skip_special=*/true), stops_(std::move(stops)) {}
  // The text these newly committed tokens make safe to send.
  std::string push(std::span<const int32_t> ids);
  // The rest of the reply; `text_end` (from the engine's finish event) cuts it at a stop string.
  std::string finish(std::optional<size_t> text_end);
  const std::string& sent() const { return sent_text_; }  // everything returned so far

 private:
  size_t safe_end() const;  // where text that could still be part of a stop string begins

  StreamDetokenizer detok_;
  std::vector<std::string> stops_;
  std::string all_;  // decoded so far (the lossy decode, as the engine's stop matching)
  std::string sent_text_;
};

}  // namespace wedlm::server
