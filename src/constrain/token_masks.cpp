#include "constrain/token_masks.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <numeric>

namespace wedlm::constrain {
namespace {

constexpr size_t kCacheBytes = size_t(64) << 20;  // allowed sets kept per grammar

// Characters of a token that can stand anywhere inside a JSON string, else -1.
int32_t plain_string_chars(const std::string& t) {
  int32_t chars = 0;
  for (size_t i = 0; i < t.size();) {
    const uint8_t c = uint8_t(t[i]);
    size_t len = 0;
    if (c < 0x80)
      len = c >= 0x20 && c != '"' && c != '\\' ? 1 : 0;
    else if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4;
    if (len == 0 || i + len > t.size()) return -1;
    for (size_t k = 1; k < len; ++k)
      if ((uint8_t(t[i + k]) & 0xC0) != 0x80) return -1;
    i += len;
    ++chars;
  }
  return t.empty() ? -1 : chars;
}

}  // namespace

Vocabulary::Sorted Vocabulary::sort_tokens(const std::vector<std::string>& bytes,
                                           std::vector<int32_t> ids) {
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return bytes[a] < bytes[b]; });
  Sorted s{std::move(ids), {}};
  s.lcp.resize(s.ids.size(), 0);
  for (size_t i = 1; i < s.ids.size(); ++i) {
    const std::string &x = bytes[size_t(s.ids[i - 1])], &y = bytes[size_t(s.ids[i])];
    const auto [ix, iy] = std::mismatch(x.begin(), x.end(), y.begin(), y.end());
    s.lcp[i] = int32_t(ix - x.begin());
  }
  return s;
}

Vocabulary::Vocabulary(std::vector<std::string> token_bytes, std::vector<int64_t> stop_ids)
    : bytes_(std::move(token_bytes)), stop_ids_(std::move(stop_ids)) {
  std::vector<int32_t> all, hard;
  plain_chars_.assign(bytes_.size(), -1);
  int32_t cap = 0;
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (bytes_[id].empty()) continue;
    ids_.emplace(bytes_[id], int32_t(id));
    all.push_back(int32_t(id));
    plain_chars_[id] = plain_string_chars(bytes_[id]);
    if (plain_chars_[id] < 0) hard.push_back(int32_t(id));
    cap = std::max(cap, plain_chars_[id]);
  }
  all_ = sort_tokens(bytes_, std::move(all));
  hard_ = sort_tokens(bytes_, std::move(hard));
  plain_upto_.assign(size_t(cap) + 1, std::vector<uint64_t>((bytes_.size() + 63) / 64, 0));
  for (size_t id = 0; id < bytes_.size(); ++id)
    if (plain_chars_[id] > 0)
      plain_upto_[size_t(plain_chars_[id])][id >> 6] |= uint64_t(1) << (id & 63);
  for (size_t r = 1; r < plain_upto_.size(); ++r)  // cumulative: <= r characters
    for (size_t w = 0; w < plain_upto_[r].size(); ++w) plain_upto_[r][w] |= plain_upto_[r - 1][w];
}

// Depth-first over the sorted tokens: at[d] is the state after the current token's first d
// bytes; a token shares at[0..lcp] with the one before. A dead prefix skips the tokens under it.
void Vocabulary::walk(const Grammar& g, const State& s, const Sorted& list, TokenSet& m) const {
  std::vector<State> at;
  at.push_back(s);
  for (size_t i = 0; i < list.ids.size();) {
    const std::string& t = bytes_[size_t(list.ids[i])];
    size_t d = i == 0 ? 0 : std::min(size_t(list.lcp[i]), at.size() - 1);
    at.resize(d + 1);
    bool dead = false;
    for (; d < t.size(); ++d) {
      State next = at[d].advance(g, uint8_t(t[d]));
      if (next.dead()) {
        dead = true;
        break;
      }
      at.push_back(std::move(next));
    }
    if (!dead) {
      m.set(list.ids[i++]);
      continue;
    }
    for (++i; i < list.ids.size() && size_t(list.lcp[i]) > d;) ++i;  // same dead prefix
  }
}

// Every stack is inside a string at a character boundary; `room` is the most characters any of
// them may still take.
bool Vocabulary::in_plain_string(const Grammar& g, const State& s, int64_t& room) const {
  room = 0;
  for (const Stack& st : s.stacks()) {
    if (st.empty()) return false;  // a whole reply
    const Frame& f = st.back();
    if (f.kind != FrameKind::kStr || f.utf8 || f.escape) return false;
    const Node& n = g[f.node];
    room = std::max(room, n.max_len < 0 ? std::numeric_limits<int64_t>::max() : n.max_len - f.a);
  }
  return !s.dead();
}

void Vocabulary::add_stops(const Grammar& g, const State& s, TokenSet& m) const {
  if (!s.can_finish(g)) return;
  for (int64_t id : stop_ids_)
    if (id >= 0 && id < size()) m.set(id);
}

TokenSet Vocabulary::allowed(const Grammar& g, const State& s) const {
  TokenSet m(size());
  int64_t room = 0;
  if (in_plain_string(g, s, room)) {
    if (room > 0)
      m.bits = plain_upto_[size_t(std::min<int64_t>(room, int64_t(plain_upto_.size()) - 1))];
    walk(g, s, hard_, m);
  } else if (!s.dead()) {
    walk(g, s, all_, m);
  }
  add_stops(g, s, m);
  m.recount();
  return m;
}

int32_t Vocabulary::id_of(std::string_view bytes) const {
  const auto it = ids_.find(std::string(bytes));
  return it == ids_.end() ? -1 : it->second;
}

TokenSet Vocabulary::allowed_reference(const Grammar& g, const State& s) const {
  TokenSet m(size());
  for (int64_t id = 0; id < size(); ++id)
    if (!bytes_[size_t(id)].empty() && !s.advance(g, bytes_[size_t(id)]).dead()) m.set(id);
  add_stops(g, s, m);
  m.recount();
  return m;
}

TokenMasks::TokenMasks(std::shared_ptr<const Grammar> g, std::shared_ptr<const Vocabulary> v)
    : g_(std::move(g)), v_(std::move(v)) {}

std::shared_ptr<const TokenSet> TokenMasks::allowed(const State& s) const {
  const std::string key = s.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  auto m = std::make_shared<const TokenSet>(v_->allowed(*g_, s));
  std::lock_guard lock(mu_);
  if ((cache_.size() + 1) * m->bits.size() * sizeof(uint64_t) > kCacheBytes) cache_.clear();
  cache_.emplace(key, m);
  return m;
}

int32_t TokenMasks::forced(const State& s) const {
  const std::string key = s.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = forced_.find(key); it != forced_.end()) return it->second;
  }
  std::string bytes;
  State at = s;
  while (bytes.size() < 64 && !at.can_finish(*g_)) {
    int next = -1;
    for (int c = 0; c < 256; ++c) {
      if (at.advance(*g_, uint8_t(c)).dead()) continue;
      if (next >= 0) {  // a choice
        next = -2;
        break;
      }
      next = c;
    }
    if (next < 0) break;
    bytes += char(next);
    at = at.advance(*g_, uint8_t(next));
  }
  int32_t id = -1;
  for (size_t n = bytes.size(); n > 0 && id < 0; --n)
    id = v_->id_of(std::string_view(bytes).substr(0, n));
  if (bytes.empty() && s.can_finish(*g_) && !v_->stop_ids().empty()) {  // the end, if only it
    bool more = false;
    for (int c = 0; c < 256 && !more; ++c) more = !s.advance(*g_, uint8_t(c)).dead();
    if (!more) id = int32_t(v_->stop_ids()[0]);
  }
  std::lock_guard lock(mu_);
  if (forced_.size() > 100000) forced_.clear();
  forced_.emplace(key, id);
  return id;
}

bool TokenMasks::is_stop(int64_t id) const {
  const auto stops = v_->stop_ids();
  return std::find(stops.begin(), stops.end(), id) != stops.end();
}

State TokenMasks::advance(const State& s, int32_t id) const {
  if (is_stop(id)) return s.can_finish(*g_) ? s : State();
  if (id < 0 || id >= v_->size() || v_->bytes(id).empty()) return State();
  return s.advance(*g_, v_->bytes(id));
}

size_t TokenMasks::cached() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

}  // namespace wedlm::constrain
