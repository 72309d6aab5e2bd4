// Byte-level BPE tokenizer of a Hugging Face tokenizer.json (Qwen2/Qwen3 layout): NFC normaliser,
// Split pre-tokenizer (the Qwen regex, run by PCRE2 with UTF and Unicode properties), ByteLevel
// mapping, BPE merges by rank, added tokens; and the ByteLevel decoder.
// Immutable after load; safe to share between threads.
//
// Status: encoding follows HF for the pipeline above; added-token lstrip/rstrip flags and other
// component types are the tokenizer issue's (load refuses unknown types by name).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

namespace wedlm {

class Tokenizer {
 public:
  static Result<Tokenizer> load(const std::string& tokenizer_json_path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // parse_special: added tokens written in the text become their ids (HF `encode`); off for text
  // a user typed, so that it can never produce a control token. Invalid UTF-8 is a Status.
  Result<std::vector<int32_t>> encode(const std::string& text, bool parse_special) const;
  // Added tokens are parsed everywhere except inside the `protected_ranges` (byte ranges, sorted):
  // template markers become ids, message content cannot.
  Result<std::vector<int32_t>> encode_protected(
      const std::string& text, const std::vector<std::pair<size_t, size_t>>& protected_ranges) const;
  // Raw bytes of the ids (may end inside a UTF-8 sequence). Unknown ids are a Status.
  Result<std::string> decode_bytes(std::span<const int32_t> ids, bool skip_special) const;
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  // Id of an added token by its text ("<|im_end|>"), or -1.
  int32_t added_token_id(const std::string& content) const;
  bool regex_jit() const { return jit_; }  // PCRE2 compiled the split regex to machine code

 private:
  Tokenizer();
  bool put_piece(int64_t id, std::string bytes);
  Status read_model(const std::string& path, simdjson::dom::element model);
  Status read_added(const std::string& path, simdjson::dom::element root);
  Status encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;
  void bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;     // id -> bytes ("" for holes)
  std::vector<bool> known_;
  std::unordered_set<int32_t> special_;
  std::vector<std::pair<std::string, int32_t>> added_;  // longest first
  bool added_first_byte_[256] = {};                      // bytes that can start an added token
  std::unordered_map<std::string, int32_t> vocab_;       // byte-level token string -> id
  std::unordered_map<std::string, int32_t> merge_rank_;  // "a b" -> rank
  struct Regex;
  std::unique_ptr<Regex> split_;
  bool jit_ = false;
  // Pre-token -> ids memo (pieces repeat a lot); bounded, guarded for concurrent encoders.
  struct StringHash {  // lets the memo be searched with a string_view, without a copy
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Cache {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
  };
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence (streaming output
// holds the rest back until its continuation bytes arrive).
size_t complete_utf8_prefix(const std::string& s);

}  // namespace wedlm
