// Which tokens may come next in a matcher State (matcher.h): the allowed set of a state over the
// tokenizer's byte-level vocabulary.
//
// Vocabulary sorts the tokens' bytes once, so walking them in order is a depth-first walk of
// their trie: a prefix's state is computed once and a dead prefix skips every token under it.
// Tokens that are plain string content (printable, no quote or backslash, whole UTF-8
// characters) are classed by their length in characters: inside a string, at a character
// boundary, they are allowed wholesale from precomputed sets, and only the rest is walked.
// allowed_reference() is the twin that tests every token on its own.
//
// TokenMasks caches each state's set by State::key(): a state reached again costs a lookup.
// Thread safety: Vocabulary is immutable; TokenMasks locks its cache.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "constrain/matcher.h"
#include "core/token_set.h"

namespace wedlm::constrain {

class Vocabulary {
 public:
  // token_bytes[id]: the bytes the token decodes to ("" for tokens never allowed, such as
  // special ones); stop ids may end a reply that is complete.
  Vocabulary(std::vector<std::string> token_bytes, std::vector<int64_t> stop_ids);
  int64_t size() const { return int64_t(bytes_.size()); }
  const std::string& bytes(int64_t id) const { return bytes_[size_t(id)]; }
  std::span<const int64_t> stop_ids() const { return stop_ids_; }

  // The tokens allowed after `s` (dead: none): walked over the sorted tokens.
  TokenSet allowed(const Grammar& g, const State& s) const;
  // The id of a token with exactly these bytes, or -1.
  int32_t id_of(std::string_view bytes) const;
  // The same set, each token tested alone (the reference twin).
  TokenSet allowed_reference(const Grammar& g, const State& s) const;

 private:
  struct Sorted {  // token ids by their bytes, and each one's common prefix with the one before
    std::vector<int32_t> ids;
    std::vector<int32_t> lcp;
  };
  static Sorted sort_tokens(const std::vector<std::string>& bytes, std::vector<int32_t> ids);
  void walk(const Grammar& g, const State& s, const Sorted& list, TokenSet& m) const;
  bool in_plain_string(const Grammar& g, const State& s, int64_t& room) const;
  void add_stops(const Grammar& g, const State& s, TokenSet& m) const;

  std::vector<std::string> bytes_;
  std::unordered_map<std::string, int32_t> ids_;  // bytes -> the lowest id with them
  std::vector<int64_t> stop_ids_;
  Sorted all_;                                     // every token with bytes
  Sorted hard_;                                    // those that are not plain string content
  std::vector<int32_t> plain_chars_;               // per token: characters if plain, else -1
  std::vector<std::vector<uint64_t>> plain_upto_;  // [r]: plain tokens of <= r characters
};

// A grammar with its cache of allowed sets, shared by every request that uses it.
class TokenMasks {
 public:
  TokenMasks(std::shared_ptr<const Grammar> g, std::shared_ptr<const Vocabulary> v);
  const Grammar& grammar() const { return *g_; }
  const Vocabulary& vocabulary() const { return *v_; }
  State start() const { return State::start(*g_); }
  // The allowed set of `s`, from the cache or computed and cached.
  std::shared_ptr<const TokenSet> allowed(const State& s) const;
  // The bytes the grammar forces after `s` (each the only byte allowed, up to a choice, a
  // possible end or 64 bytes), as the longest token they begin with: what WeDLM may fill a slot
  // with whose own draw does not fit. -1 when nothing is forced.
  int32_t forced(const State& s) const;
  // `s` after token `id` (dead if the token is not allowed there).
  State advance(const State& s, int32_t id) const;
  bool is_stop(int64_t id) const;
  size_t cached() const;  // states cached now

 private:
  std::shared_ptr<const Grammar> g_;
  std::shared_ptr<const Vocabulary> v_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const TokenSet>> cache_;
  mutable std::unordered_map<std::string, int32_t> forced_;
};

}  // namespace wedlm::constrain
