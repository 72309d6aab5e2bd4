// Byte-level BPE tokenizer of a Hugging Face tokenizer.json (Qwen2/Qwen2.5/Qwen3 layout): NFC
// normaliser (or none), Split pre-tokenizer (the Qwen regex, run by PCRE2 with UTF and Unicode
// properties) or ByteLevel with its own regex, ByteLevel mapping, BPE merges by rank, added tokens
// with their special/lstrip/rstrip/normalized flags; and the ByteLevel decoder.
// Unknown component types, and flags this class does not implement (single_word), fail at load
// with their names. Immutable after load; safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

namespace wedlm {

using ByteRanges = std::vector<std::pair<size_t, size_t>>;  // [begin, end) byte offsets, sorted

struct AddedToken {
  std::string content;  // normalized tokens: the content after the normaliser
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, normalized = false;
};

struct TokenizerOptions {
  // Run the split regex in PCRE2 even where a hand-written matcher implements it (the reference
  // twin of fast_split.h, for tests and comparisons).
  bool pcre2_split = false;
};

class Tokenizer {
 public:
  static Result<Tokenizer> load(const std::string& tokenizer_json_path,
                                const TokenizerOptions& options = {});
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // parse_special: added tokens written in the text become their ids (HF `encode`); off for text
  // a user typed, so that it can never produce a control token. Invalid UTF-8 is a Status.
  Result<std::vector<int32_t>> encode(const std::string& text, bool parse_special) const;
  // Added tokens are parsed everywhere except inside the `protected_ranges`: template markers
  // become ids, message content cannot.
  Result<std::vector<int32_t>> encode_protected(const std::string& text,
                                                const ByteRanges& protected_ranges) const;
  // Raw bytes of the ids (may end inside a UTF-8 sequence). Unknown ids are a Status.
  Result<std::string> decode_bytes(std::span<const int32_t> ids, bool skip_special) const;
  // Text of the ids as HF decodes it: invalid or unfinished UTF-8 becomes U+FFFD.
  Result<std::string> decode(std::span<const int32_t> ids, bool skip_special) const;
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  // Id of an added token by its text ("<|im_end|>"), or -1.
  int32_t added_token_id(const std::string& content) const;
  bool regex_jit() const { return jit_; }  // PCRE2 compiled the split regex to machine code
  bool uses_fast_split() const { return fast_split_ != 0; }  // a hand-written matcher splits
  size_t cache_bytes() const;                                // what the BPE memo holds now

 private:
  struct AddedSet {  // added tokens matched at one stage, longest first
    std::vector<AddedToken> tokens;
    bool first_byte[256] = {};
    void add(AddedToken t);
  };
  Tokenizer();
  bool put_piece(int64_t id, std::string bytes);
  Status read_model(const std::string& path, simdjson::dom::element model);
  Status read_added(const std::string& path, simdjson::dom::element root);
  Status compile_split(const std::string& path, const std::string& pattern);
  template <class Plain>
  Status split_added(std::string_view text, const ByteRanges& guard, const AddedSet& set,
                     std::vector<int32_t>& out, Plain&& plain) const;
  Status encode_segment(std::string_view text, const ByteRanges& guard,
                        std::vector<int32_t>& out) const;
  Status pre_tokenize(std::string_view nfc_text, std::vector<int32_t>& out) const;
  void split_pcre2(std::string_view s, std::vector<int32_t>& out) const;
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;
  void bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;  // id -> bytes ("" for holes)
  std::vector<bool> known_;
  std::unordered_set<int32_t> special_;
  AddedSet raw_added_;             // matched on the text as given (normalized = false)
  AddedSet norm_added_;            // matched on the normalised text between raw matches
  bool nfc_ = false;               // the normaliser is NFC (else none)
  bool add_prefix_space_ = false;  // ByteLevel: a space in front of each segment that lacks one
  std::unordered_map<std::string, int32_t> vocab_;  // byte-level token string -> id
  struct Merge {
    int32_t rank, id;  // its rank in the merges, and the id of the merged token
  };
  // (left id << 32 | right id) -> the merge of that pair (tokenizer.json's merges, as ids)
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_id_[256];  // the id of each byte's one-character token (-1: none)
  struct Regex;
  std::unique_ptr<Regex> split_;
  bool jit_ = false;
  int fast_split_ = 0;  // SplitPattern of fast_split.h; 0 = PCRE2
  // Pre-token -> ids memo (pieces repeat a lot): pieces up to kCachedPieceBytes, at most
  // kCacheBytes in all (then emptied); guarded for concurrent encoders.
  static constexpr size_t kCachedPieceBytes = 256;
  static constexpr size_t kCacheBytes = size_t(64) << 20;
  struct StringHash {  // lets the memo be searched with a string_view, without a copy
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Cache {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
    size_t bytes = 0;  // keys, ids and a per-entry overhead
  };
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace wedlm
