// Token ids -> text for byte-level BPE tokenizers (Qwen tokenizer.json): vocab strings map back to
// bytes through GPT-2's byte<->unicode table; added tokens are literal text. Encoding (text -> ids)
// is the tokenizer issue's; this is the decode half the CLI needs to print text.
// Immutable after load; safe to share between threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/status.h"

namespace wedlm {

class Detokenizer {
 public:
  static Result<Detokenizer> load(const std::string& tokenizer_json_path);

  // Raw bytes of the ids (may end inside a UTF-8 sequence). Unknown ids are a Status.
  Result<std::string> decode_bytes(std::span<const int32_t> ids, bool skip_special) const;
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  // Id of an added token by its text ("<|im_end|>"), or -1.
  int32_t added_token_id(const std::string& content) const;

 private:
  std::vector<std::string> pieces_;     // id -> bytes ("" for holes)
  std::vector<bool> known_;
  std::unordered_set<int32_t> special_;
  std::vector<std::pair<std::string, int32_t>> added_;
};

// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence (streaming output
// holds the rest back until its continuation bytes arrive).
size_t complete_utf8_prefix(const std::string& s);

}  // namespace wedlm
