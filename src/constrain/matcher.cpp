#include "constrain/matcher.h"

#include <algorithm>
#include <cstring>

namespace wedlm::constrain {
namespace {

constexpr int kMaxIntDigits = 15;  // exact in a double: JSON readers keep the value
constexpr int kMaxFracDigits = 15;

Frame value_frame(int32_t node) {
  Frame f;
  f.node = node;
  return f;
}

Frame frame(FrameKind kind, int32_t node) {
  Frame f;
  f.kind = kind;
  f.node = node;
  return f;
}

// Feeds one byte to one stack, appending the stacks that survive it.
class Feeder {
 public:
  Feeder(const Grammar& g, std::vector<Stack>& out) : g_(g), out_(out) {}
  void feed(Stack s, uint8_t c);

 private:
  void start(Stack& s, uint8_t c);
  void literal(Stack& s, uint8_t c);
  void string(Stack& s, uint8_t c);
  void number(Stack& s, uint8_t c);
  void object(Stack& s, uint8_t c);
  void keyed_object(Stack& s, uint8_t c);
  void array(Stack& s, uint8_t c);
  void repeat(Stack& s, uint8_t c);
  void pop_then_feed(Stack s, uint8_t c) {  // the value is complete; the byte is its parent's
    s.pop_back();
    feed(std::move(s), c);
  }
  void keep(Stack& s) { out_.push_back(std::move(s)); }
  void pop_keep(Stack& s) {
    s.pop_back();
    keep(s);
  }

  const Grammar& g_;
  std::vector<Stack>& out_;
};

void Feeder::feed(Stack s, uint8_t c) {
  if (s.empty() || s.size() > kMaxDepth) return;
  switch (s.back().kind) {
    case FrameKind::kValue: return start(s, c);
    case FrameKind::kLit: return literal(s, c);
    case FrameKind::kStr: return string(s, c);
    case FrameKind::kNum: return number(s, c);
    case FrameKind::kObj: return object(s, c);
    case FrameKind::kArr: return array(s, c);
    case FrameKind::kRep: return repeat(s, c);
  }
}

void Feeder::start(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const Node& n = g_[f.node];
  switch (n.kind) {
    case NodeKind::kAnyJson: f.node = g_.any_value; return feed(std::move(s), c);
    case NodeKind::kAnyOf:
      for (int32_t alt : n.children) {
        Stack t = s;
        t.back().node = alt;
        feed(std::move(t), c);
      }
      return;
    case NodeKind::kSeq:  // the parts, first on top
      s.pop_back();
      for (auto it = n.children.rbegin(); it != n.children.rend(); ++it)
        s.push_back(value_frame(*it));
      return feed(std::move(s), c);
    case NodeKind::kLiteral: f = frame(FrameKind::kLit, f.node); return literal(s, c);
    case NodeKind::kRepeat: f = frame(FrameKind::kRep, f.node); return repeat(s, c);
    case NodeKind::kInteger:
    case NodeKind::kNumber: f = frame(FrameKind::kNum, f.node); return number(s, c);
    case NodeKind::kString:
      if (c != '"') return;
      f = frame(FrameKind::kStr, f.node);
      return keep(s);
    case NodeKind::kObject:
      if (c != '{') return;
      f = frame(FrameKind::kObj, f.node);
      return keep(s);
    case NodeKind::kArray:
      if (c != '[') return;
      f = frame(FrameKind::kArr, f.node);
      return keep(s);
  }
}

void Feeder::literal(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const std::string& t = g_[f.node].text;
  if (uint8_t(t[size_t(f.a)]) != c) return;
  if (size_t(++f.a) == t.size()) return pop_keep(s);
  keep(s);
}

// UTF-8 is checked for sequence shape (lead byte, continuation count); characters are code
// points, the unit JSON Schema's minLength/maxLength count. Escapes: \" \\ \/ \b \f \n \r \t.
void Feeder::string(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const Node& n = g_[f.node];
  const bool counted = n.max_len >= 0 || n.min_len > 0;
  const bool room = n.max_len < 0 || f.a < n.max_len;
  auto count = [&] {
    if (counted && (n.max_len >= 0 || f.a < n.min_len)) ++f.a;  // unbounded: saturates at min
  };
  if (f.escape) {
    if (!std::strchr("\"\\/bfnrt", c) || c == 0) return;
    f.escape = 0;
    count();
    return keep(s);
  }
  if (f.utf8) {
    if ((c & 0xC0) != 0x80) return;
    --f.utf8;
    return keep(s);
  }
  if (c == '"') {
    if (f.a < n.min_len) return;
    return pop_keep(s);
  }
  if (!room || c < 0x20) return;
  if (c == '\\') {
    f.escape = 1;
    return keep(s);
  }
  if (c >= 0x80) {
    if (c >= 0xC2 && c <= 0xDF)
      f.utf8 = 1;
    else if (c >= 0xE0 && c <= 0xEF)
      f.utf8 = 2;
    else if (c >= 0xF0 && c <= 0xF4)
      f.utf8 = 3;
    else
      return;
  }
  count();
  keep(s);
}

// Number phases: 0 start, 1 after '-', 2 integer part "0", 3 integer digits, 4 after '.',
// 5 fraction digits.
struct NumParts {
  bool neg;
  int int_digits, frac_digits;
};

NumParts parts_of(const Frame& f) {
  return {((f.b >> 16) & 1) != 0, int(f.b & 0xFF), int((f.b >> 8) & 0xFF)};
}

void set_parts(Frame& f, NumParts p) {
  f.b = int64_t(p.int_digits) | int64_t(p.frac_digits) << 8 | int64_t(p.neg) << 16;
}

double pow10(int e) {
  double r = 1;
  while (e-- > 0) r *= 10;
  return r;
}

bool overlaps(const Node& n, double lo, double hi) {
  return !(n.lo && hi < *n.lo) && !(n.hi && lo > *n.hi);
}

// Some value that starts with this integer part (neg, magnitude, digits) lies within the bounds.
bool reachable(const Node& n, bool neg, int64_t mag, int digits) {
  for (int e = 0; digits + e <= kMaxIntDigits; ++e) {
    if (mag == 0 && e > 0) break;  // no digit after a leading zero
    const double lo = double(mag) * pow10(e), hi = lo + pow10(e) - 1;
    if (neg ? overlaps(n, -hi, -lo) : overlaps(n, lo, hi)) return true;
  }
  return false;
}

bool within(const Node& n, double v) { return overlaps(n, v, v); }

// A fraction may follow the integer part when every value it can make is within the bounds.
bool fraction_fits(const Node& n, bool neg, int64_t mag) {
  const double ip = neg ? -double(mag) : double(mag);
  return neg ? within(n, ip - 1) && within(n, ip) : within(n, ip) && within(n, ip + 1);
}

void Feeder::number(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const Node& n = g_[f.node];
  NumParts p = parts_of(f);
  const bool is_int = n.kind == NodeKind::kInteger;
  const bool digit = c >= '0' && c <= '9';
  const int d = c - '0';
  const int phase = f.phase;
  const double value = p.neg ? -double(f.a) : double(f.a);
  const bool complete = (phase == 2 || phase == 3 || phase == 5) && within(n, value);
  if (complete) pop_then_feed(s, c);  // the byte may be the parent's
  Stack t = std::move(s);
  Frame& g = t.back();
  if (phase == 0 && c == '-') {
    if (n.lo && *n.lo > -1) return;
    p.neg = true;
    g.phase = 1;
  } else if ((phase == 0 || phase == 1) && digit) {
    if (!reachable(n, p.neg, d, 1)) return;
    g.a = d;
    p.int_digits = 1;
    g.phase = d == 0 ? 2 : 3;
  } else if (phase == 3 && digit) {
    if (!reachable(n, p.neg, g.a * 10 + d, p.int_digits + 1)) return;
    g.a = g.a * 10 + d;
    ++p.int_digits;
  } else if ((phase == 2 || phase == 3) && c == '.' && !is_int) {
    if (!fraction_fits(n, p.neg, g.a)) return;
    g.phase = 4;
  } else if ((phase == 4 || phase == 5) && digit && p.frac_digits < kMaxFracDigits) {
    ++p.frac_digits;
    g.phase = 5;
  } else {
    return;
  }
  set_parts(g, p);
  keep(t);
}

// Properties in schema order: from the next one, any optional ones may be skipped, up to and
// including the first required one. Phases as in object().
void Feeder::keyed_object(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const Node& n = g_[f.node];
  size_t first_required = n.props.size();
  for (size_t j = size_t(f.a); j < n.props.size(); ++j)
    if (n.props[j].required) {
      first_required = j;
      break;
    }
  const bool may_close = first_required == n.props.size();
  const size_t last = std::min(first_required, n.props.size() - (n.props.empty() ? 0 : 1));
  if (c == '}' && (f.phase == 0 || f.phase == 1)) {
    if (may_close) pop_keep(s);
    return;
  }
  if (c == ',' && f.phase == 1) {
    if (size_t(f.a) >= n.props.size()) return;
    f.phase = 4;
    return keep(s);
  }
  if (c == ' ' && f.phase == 4) {
    f.phase = 2;
    return keep(s);
  }
  if (c != '"' || (f.phase != 0 && f.phase != 2)) return;
  for (size_t j = size_t(f.a); j < n.props.size() && j <= last; ++j) {
    Stack t;
    t.reserve(s.size() + 2);
    t = s;
    t.back().phase = 1;
    t.back().a = int64_t(j + 1);
    t.push_back(value_frame(n.props[j].value));
    Frame key = frame(FrameKind::kLit, n.props[j].key);
    key.a = 1;  // the opening quote
    t.push_back(key);
    keep(t);
  }
}

// Object phases: 0 after '{', 1 after a value, 2 after ", ", 3 after a key (any keys only),
// 4 after ',', 5 after ':' (any keys only). Separators are ", " and ": ", as Python's json.dumps
// and the chat templates' tojson write them (keyed objects have ": " in their key literals).
void Feeder::object(Stack& s, uint8_t c) {
  Frame& f = s.back();
  if (!g_[f.node].any_keys) return keyed_object(s, c);
  if (c == '}' && (f.phase == 0 || f.phase == 1)) return pop_keep(s);
  if ((c == ',' && f.phase == 1) || (c == ':' && f.phase == 3)) {
    f.phase = c == ',' ? 4 : 5;
    return keep(s);
  }
  if (c == ' ' && (f.phase == 4 || f.phase == 5)) {
    const bool value_next = f.phase == 5;
    f.phase = value_next ? 1 : 2;
    if (value_next) s.push_back(value_frame(g_.any_value));  // (f dangles past this push)
    return keep(s);
  }
  if (c == '"' && (f.phase == 0 || f.phase == 2)) {
    f.phase = 3;
    s.push_back(frame(FrameKind::kStr, g_.any_string));
    return keep(s);
  }
}

// Array phases: 0 after '[', 1 after an item, 2 after ", ", 3 after ','.
void Feeder::array(Stack& s, uint8_t c) {
  Frame& f = s.back();
  const Node& n = g_[f.node];
  if (c == ']' && (f.phase == 0 || f.phase == 1)) {
    if (f.a >= n.min_items) pop_keep(s);
    return;
  }
  if ((c == ',' && f.phase == 1) || (c == ' ' && f.phase == 3)) {
    if (n.max_items >= 0 && f.a >= n.max_items) return;
    f.phase = c == ',' ? 3 : 2;
    return keep(s);
  }
  if (f.phase == 1 || f.phase == 3 || (n.max_items >= 0 && f.a >= n.max_items)) return;
  f.phase = 1;
  ++f.a;
  s.push_back(value_frame(n.children[0]));
  feed(std::move(s), c);
}

// Repeat phases: 0 before the first item, 1 after an item.
void Feeder::repeat(Stack& s, uint8_t c) {
  const Frame& f = s.back();
  const Node& n = g_[f.node];
  if (f.a >= n.min_items) pop_then_feed(s, c);
  if (n.max_items >= 0 && f.a >= n.max_items) return;
  Stack t = std::move(s);
  const bool first = t.back().phase == 0;
  t.back().phase = 1;
  ++t.back().a;
  t.push_back(value_frame(n.children[0]));
  if (!first && n.children.size() > 1) t.push_back(value_frame(n.children[1]));
  feed(std::move(t), c);
}

// The top frames can end without another byte, down to an empty stack.
bool can_end(const Grammar& g, const Stack& s) {
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    const Frame& f = *it;
    const Node& n = g[f.node];
    if (f.kind == FrameKind::kNum) {
      const NumParts p = parts_of(f);
      const bool whole = f.phase == 2 || f.phase == 3 || f.phase == 5;
      if (!whole || !within(n, p.neg ? -double(f.a) : double(f.a))) return false;
    } else if (f.kind == FrameKind::kValue) {
      if (n.kind != NodeKind::kRepeat || n.min_items > 0) return false;  // an optional repeat
    } else if (f.kind != FrameKind::kRep || f.a < n.min_items) {
      return false;
    }
  }
  return true;
}

}  // namespace

State State::start(const Grammar& g) {
  State s;
  s.stacks_.push_back({value_frame(g.root)});
  return s;
}

State State::advance(const Grammar& g, uint8_t c) const {
  State next;
  Feeder feeder(g, next.stacks_);
  for (const Stack& s : stacks_) feeder.feed(s, c);
  next.normalize();
  return next;
}

State State::advance(const Grammar& g, std::string_view bytes) const {
  State s = *this;
  for (char c : bytes) {
    if (s.dead()) break;
    s = s.advance(g, uint8_t(c));
  }
  return s;
}

bool State::can_finish(const Grammar& g) const {
  return std::any_of(stacks_.begin(), stacks_.end(), [&](const Stack& s) { return can_end(g, s); });
}

std::string State::key() const {
  std::string k;
  for (const Stack& s : stacks_) {
    const uint32_t n = uint32_t(s.size());
    k.append(reinterpret_cast<const char*>(&n), sizeof n);
    k.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(Frame));
  }
  return k;
}

void State::normalize() {
  auto less = [](const Stack& x, const Stack& y) {
    if (x.size() != y.size()) return x.size() < y.size();
    return std::memcmp(x.data(), y.data(), x.size() * sizeof(Frame)) < 0;
  };
  auto equal = [](const Stack& x, const Stack& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(Frame)) == 0;
  };
  if (stacks_.size() < 2) return;
  std::sort(stacks_.begin(), stacks_.end(), less);
  stacks_.erase(std::unique(stacks_.begin(), stacks_.end(), equal), stacks_.end());
}

}  // namespace wedlm::constrain
