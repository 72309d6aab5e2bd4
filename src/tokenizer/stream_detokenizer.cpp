#include "tokenizer/stream_detokenizer.h"

#include "tokenizer/utf8.h"

namespace wedlm {

Result<std::string> StreamDetokenizer::push(std::span<const int32_t> ids) {
  auto bytes = tok_->decode_bytes(ids, skip_special_);
  if (!bytes.is_ok()) return bytes.status();
  pending_ += bytes.value();
  std::string text;
  pending_.erase(0, utf8_lossy_settled(pending_, text));
  return text;
}

std::string StreamDetokenizer::finish() {
  std::string text = utf8_lossy(pending_);
  pending_.clear();
  return text;
}

}  // namespace wedlm
