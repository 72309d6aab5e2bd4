// Tokenizer encoding and decoding. The HF pipeline: added tokens that are not normalised are
// split off the raw text (lstrip/rstrip absorbing whitespace), each remaining segment is
// normalised (NFC), normalised added tokens are split off it, and the rest is pre-tokenized by
// the split regex and byte-level BPE'd.
#include <algorithm>
#include <climits>
#include <queue>

#include <fmt/core.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/fast_split.h"
#include "tokenizer/split_regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace wedlm {
namespace {

Status not_utf8() { return Status(ErrorKind::kInvalidArgument, "text is not valid UTF-8"); }

// Start of the whitespace run that ends at `end` (not before `floor`).
size_t white_run_start(std::string_view s, size_t end, size_t floor) {
  while (end > floor) {
    size_t b = end - 1;
    while (b > floor && (static_cast<unsigned char>(s[b]) & 0xc0) == 0x80) --b;
    const size_t n = utf8_sequence_at(s, b);
    if (n != end - b || !is_white_space(utf8_code_point(s, b, n))) break;
    end = b;
  }
  return end;
}

// End of the whitespace run that starts at `begin`.
size_t white_run_end(std::string_view s, size_t begin) {
  while (begin < s.size()) {
    const size_t n = utf8_sequence_at(s, begin);
    if (n == 0 || !is_white_space(utf8_code_point(s, begin, n))) break;
    begin += n;
  }
  return begin;
}

// The guards that overlap [from, from + len), shifted to start at `from`.
ByteRanges guards_within(const ByteRanges& guard, size_t from, size_t len) {
  ByteRanges r;
  for (const auto& [b, e] : guard)
    if (e > from && b < from + len)
      r.emplace_back(std::max(b, from) - from, std::min(e, from + len) - from);
  return r;
}

}  // namespace

// Calls plain(segment, offset) for the text between added-token matches and appends each match's
// id, in order. Matches are leftmost-longest and never inside a guard.
template <class Plain>
Status Tokenizer::split_added(std::string_view text, const ByteRanges& guard, const AddedSet& set,
                              std::vector<int32_t>& out, Plain&& plain) const {
  size_t pos = 0, plain_from = 0, g = 0;
  while (pos < text.size()) {
    while (g < guard.size() && guard[g].second <= pos) ++g;
    if (g < guard.size() && guard[g].first <= pos) {  // inside protected text: skip it whole
      pos = guard[g].second;
      continue;
    }
    if (!set.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const size_t room = (g < guard.size() ? guard[g].first : text.size()) - pos;
    const auto hit = std::find_if(set.tokens.begin(), set.tokens.end(), [&](const AddedToken& a) {
      return a.content.size() <= room && text.compare(pos, a.content.size(), a.content) == 0;
    });
    if (hit == set.tokens.end()) {
      ++pos;
      continue;
    }
    const size_t begin = hit->lstrip ? white_run_start(text, pos, plain_from) : pos;
    const size_t end = pos + hit->content.size();
    WEDLM_RETURN_IF_ERROR(plain(text.substr(plain_from, begin - plain_from), plain_from));
    out.push_back(hit->id);
    pos = plain_from = hit->rstrip ? white_run_end(text, end) : end;
  }
  return plain(text.substr(plain_from), plain_from);
}

// One segment between raw added tokens: normalise it (piecewise at guard boundaries, so that the
// guards can be carried over), split off normalised added tokens outside the guards, pre-tokenize.
Status Tokenizer::encode_segment(std::string_view text, const ByteRanges& guard,
                                 std::vector<int32_t>& out) const {
  if (text.empty()) return Status::ok();
  if (is_ascii(text) && norm_added_.tokens.empty()) return pre_tokenize(text, out);
  std::string norm;
  ByteRanges norm_guard;
  size_t at = 0;
  const auto append = [&](size_t b, size_t e, bool guarded) -> Status {
    const std::string_view piece = text.substr(b, e - b);
    const size_t from = norm.size();
    if (!nfc_ || is_ascii(piece)) {
      if (!is_valid_utf8(piece)) return not_utf8();
      norm.append(piece);
    } else if (!append_nfc(piece, norm)) {
      return not_utf8();
    }
    if (guarded && norm.size() > from) norm_guard.emplace_back(from, norm.size());
    return Status::ok();
  };
  const ByteRanges g = norm_added_.tokens.empty() ? ByteRanges{} : guard;
  for (const auto& [b, e] : g) {
    WEDLM_RETURN_IF_ERROR(append(at, b, false));
    WEDLM_RETURN_IF_ERROR(append(b, e, true));
    at = e;
  }
  WEDLM_RETURN_IF_ERROR(append(at, text.size(), false));
  if (norm_added_.tokens.empty()) return pre_tokenize(norm, out);
  return split_added(norm, norm_guard, norm_added_, out,
                     [&](std::string_view seg, size_t) { return pre_tokenize(seg, out); });
}

Status Tokenizer::pre_tokenize(std::string_view s, std::vector<int32_t>& out) const {
  if (s.empty()) return Status::ok();
  const size_t first = out.size();
  std::string prefixed;
  if (add_prefix_space_ && s[0] != ' ') {
    prefixed.reserve(s.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(s);
    s = prefixed;
  }
  if (fast_split_ != 0) {
    thread_local std::vector<std::pair<size_t, size_t>> pieces;
    pieces.clear();
    fast_split(SplitPattern(fast_split_), s, pieces);
    for (const auto& [b, e] : pieces) bpe(s.substr(b, e - b), out);
  } else {
    split_pcre2(s, out);
  }
  if (std::find(out.begin() + long(first), out.end(), -1) != out.end())
    return Status(ErrorKind::kCorruptFile, "tokenizer.json lacks a byte-level base token");
  return Status::ok();
}

void Tokenizer::split_pcre2(std::string_view s, std::vector<int32_t>& out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(split_->code, nullptr);
  size_t pos = 0;
  while (pos < s.size()) {
    // The text is valid UTF-8 by now: skip PCRE2's check of the whole subject, which it would
    // otherwise repeat at every call (quadratic in the text's length).
    const int rc = pcre2_match(split_->code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos,
                               PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) {  // no further match: the rest is one piece (Isolated keeps gaps)
      bpe(s.substr(pos), out);
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[0] > pos) bpe(s.substr(pos, ov[0] - pos), out);
    if (ov[1] > ov[0]) bpe(s.substr(ov[0], ov[1] - ov[0]), out);
    pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
  }
  pcre2_match_data_free(md);
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() > kCachedPieceBytes) return bpe_uncached(piece, out);
  {
    std::lock_guard<std::mutex> lock(cache_->mu);
    const auto hit = cache_->map.find(piece);
    if (hit != cache_->map.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  const size_t first = out.size();
  bpe_uncached(piece, out);
  const size_t cost = piece.size() + (out.size() - first) * sizeof(int32_t) + 96;
  std::lock_guard<std::mutex> lock(cache_->mu);
  if (cache_->bytes + cost > kCacheBytes) cache_->map.clear(), cache_->bytes = 0;
  if (cache_->map
          .emplace(std::string(piece), std::vector<int32_t>(out.begin() + long(first), out.end()))
          .second)
    cache_->bytes += cost;
}

size_t Tokenizer::cache_bytes() const {
  std::lock_guard<std::mutex> lock(cache_->mu);
  return cache_->bytes;
}

// Byte-pair merges as Hugging Face's BPE applies them: always the pair of lowest rank, the
// leftmost of equals, until no adjacent pair has a merge. Symbols are a linked list of token ids
// and candidate pairs a heap; a candidate whose symbols have changed since is skipped. O(n log n)
// in the piece's bytes (rescanning every pair per merge was quadratic: a 1M-byte word took 66 s).
void Tokenizer::bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const {
  struct Sym {
    int32_t id, prev, next;
  };
  struct Candidate {
    int32_t rank, pos, left, right, merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  constexpr int32_t kGone = INT32_MIN;  // a symbol merged into its left neighbour
  const int32_t n = int32_t(piece.size());
  std::vector<Sym> syms(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    syms[size_t(i)] = {byte_id_[static_cast<unsigned char>(piece[size_t(i)])], i - 1,
                       i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto offer = [&](int32_t i) {  // the pair starting at symbol i, if it has a merge
    const int32_t j = syms[size_t(i)].next;
    if (j < 0) return;
    const int32_t a = syms[size_t(i)].id, b = syms[size_t(j)].id;
    const auto it = merges_.find(uint64_t(uint32_t(a)) << 32 | uint32_t(b));
    if (it != merges_.end()) heap.push({it->second.rank, i, a, b, it->second.id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) offer(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Sym& left = syms[size_t(c.pos)];
    if (left.id != c.left || left.next < 0 || syms[size_t(left.next)].id != c.right) continue;
    Sym& right = syms[size_t(left.next)];
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) syms[size_t(right.next)].prev = c.pos;
    right.id = kGone;
    if (left.prev >= 0) offer(left.prev);
    offer(c.pos);
  }
  for (int32_t i = 0; i >= 0 && n > 0; i = syms[size_t(i)].next) out.push_back(syms[size_t(i)].id);
}

Result<std::vector<int32_t>> Tokenizer::encode(const std::string& text, bool parse_special) const {
  if (parse_special) return encode_protected(text, {});
  return encode_protected(text, {{0, text.size()}});
}

Result<std::vector<int32_t>> Tokenizer::encode_protected(const std::string& text,
                                                         const ByteRanges& guard) const {
  std::vector<int32_t> out;
  const auto segment = [&](std::string_view seg, size_t from) {
    return encode_segment(seg, guards_within(guard, from, seg.size()), out);
  };
  WEDLM_RETURN_IF_ERROR(split_added(text, guard, raw_added_, out, segment));
  return out;
}

Result<std::string> Tokenizer::decode_bytes(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= pieces_.size() || !known_[size_t(id)])
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("token id {} is not in the vocabulary", id));
    if (skip_special && special_.count(id)) continue;
    out += pieces_[size_t(id)];
  }
  return out;
}

Result<std::string> Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  auto bytes = decode_bytes(ids, skip_special);
  if (!bytes.is_ok()) return bytes.status();
  return utf8_lossy(bytes.value());
}

int32_t Tokenizer::added_token_id(const std::string& content) const {
  for (const AddedSet* set : {&raw_added_, &norm_added_})
    for (const AddedToken& t : set->tokens)
      if (t.content == content) return t.id;
  return -1;
}

}  // namespace wedlm
