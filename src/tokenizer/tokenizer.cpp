#include "tokenizer/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <simdjson.h>

namespace wedlm {

struct Tokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

namespace {


// GPT-2 bytes_to_unicode: byte -> code point, and its inverse.
struct ByteMap {
  std::string to_char[256];  // UTF-8 of the code point standing for each byte
  std::vector<int> to_byte = std::vector<int>(512, -1);
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const int cp = printable ? b : 256 + n++;
      to_byte[size_t(cp)] = b;
      to_char[b] = cp < 0x80 ? std::string(1, char(cp))
                             : std::string{char(0xc0 | (cp >> 6)), char(0x80 | (cp & 0x3f))};
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// A vocab string (byte-level chars) back to its bytes.
bool token_bytes(const std::string& tok, std::string& out) {
  const auto& inv = byte_map().to_byte;
  for (size_t i = 0; i < tok.size();) {
    const unsigned char c = static_cast<unsigned char>(tok[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) cp = c, len = 1;
    else if ((c >> 5) == 6 && i + 1 < tok.size()) cp = ((c & 0x1fu) << 6) | (tok[i + 1] & 0x3fu), len = 2;
    else return false;
    if (cp >= inv.size() || inv[cp] < 0) return false;
    out.push_back(static_cast<char>(inv[cp]));
    i += len;
  }
  return true;
}

bool is_ascii(std::string_view s) {
  unsigned char any = 0;
  for (unsigned char c : s) any |= c;
  return any < 0x80;
}

Status corrupt(const std::string& path, const std::string& what) {
  return Status(ErrorKind::kCorruptFile, fmt::format("{}: {}", path, what));
}

using simdjson::dom::element;

std::string str_or(element e, const char* key, const char* fallback = "") {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string(fallback);
}

bool bool_or(element e, const char* key, bool fallback) {
  bool v;
  return e[key].get(v) == simdjson::SUCCESS ? v : fallback;
}

// The pipeline this class implements; anything else is refused by name.
Status check_components(const std::string& path, element j, std::string& pattern) {
  element norm;
  if (j["normalizer"].get(norm) == simdjson::SUCCESS && !norm.is_null() &&
      str_or(norm, "type") != "NFC")
    return Status(ErrorKind::kUnsupported, fmt::format("{}: normalizer type '{}' is not supported",
                                                       path, str_or(norm, "type", "?")));
  element pre;
  if (j["pre_tokenizer"].get(pre) != simdjson::SUCCESS || pre.is_null())
    return corrupt(path, "no pre_tokenizer");
  std::vector<element> steps;
  simdjson::dom::array list;
  if (str_or(pre, "type") == "Sequence" && pre["pretokenizers"].get(list) == simdjson::SUCCESS)
    for (element st : list) steps.push_back(st);
  else
    steps.push_back(pre);
  for (element st : steps) {
    const std::string type = str_or(st, "type", "?");
    std::string_view regex;
    if (type == "Split" && st["pattern"]["Regex"].get(regex) == simdjson::SUCCESS)
      pattern = std::string(regex);
    else if (type != "ByteLevel" || bool_or(st, "use_regex", false) ||
             bool_or(st, "add_prefix_space", false))
      return Status(ErrorKind::kUnsupported,
                    fmt::format("{}: pre_tokenizer step '{}' is not supported", path, type));
  }
  if (pattern.empty()) return corrupt(path, "no Split regex in the pre_tokenizer");
  if (str_or(j["model"], "type") != "BPE")
    return Status(ErrorKind::kUnsupported, fmt::format("{}: model type '{}' is not supported",
                                                       path, str_or(j["model"], "type", "?")));
  return Status::ok();
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

bool Tokenizer::put_piece(int64_t id, std::string bytes) {
  if (id < 0 || id > (1 << 24)) return false;
  if (size_t(id) >= pieces_.size()) pieces_.resize(size_t(id) + 1), known_.resize(size_t(id) + 1);
  pieces_[size_t(id)] = std::move(bytes);
  known_[size_t(id)] = true;
  return true;
}

Status Tokenizer::read_model(const std::string& path, element model) {
  simdjson::dom::object vocab;
  if (model["vocab"].get(vocab) != simdjson::SUCCESS) return corrupt(path, "no model.vocab object");
  vocab_.reserve(vocab.size());
  for (auto [tok, idv] : vocab) {
    int64_t id;
    std::string bytes;
    if (idv.get(id) != simdjson::SUCCESS || !token_bytes(std::string(tok), bytes) ||
        !put_piece(id, std::move(bytes)))
      return corrupt(path, fmt::format("vocab entry '{}' is not a byte-level token", tok));
    vocab_.emplace(std::string(tok), int32_t(id));
  }
  simdjson::dom::array merges;
  if (model["merges"].get(merges) != simdjson::SUCCESS) return Status::ok();
  merge_rank_.reserve(merges.size());
  int32_t rank = 0;
  for (element m : merges) {
    std::string_view a, b;
    simdjson::dom::array pair;
    std::string key;
    if (m.get(a) == simdjson::SUCCESS) key = std::string(a);
    else if (m.get(pair) == simdjson::SUCCESS && pair.size() == 2 &&
             pair.at(0).get(a) == simdjson::SUCCESS && pair.at(1).get(b) == simdjson::SUCCESS)
      key = std::string(a) + " " + std::string(b);
    if (key.empty()) return corrupt(path, fmt::format("merge {} is not \"a b\" or [a, b]", rank));
    merge_rank_.emplace(std::move(key), rank++);
  }
  return Status::ok();
}

Status Tokenizer::read_added(const std::string& path, element j) {
  simdjson::dom::array added;
  if (j["added_tokens"].get(added) != simdjson::SUCCESS) return Status::ok();
  for (element a : added) {
    int64_t id = -1;
    std::string_view content;
    if (a["id"].get(id) != simdjson::SUCCESS || a["content"].get(content) != simdjson::SUCCESS ||
        !put_piece(id, std::string(content)))
      return corrupt(path, "bad added_tokens entry " + simdjson::to_string(a));
    if (bool_or(a, "special", false)) special_.insert(int32_t(id));
    added_.emplace_back(std::string(content), int32_t(id));
    if (!content.empty()) added_first_byte_[static_cast<unsigned char>(content[0])] = true;
  }
  std::stable_sort(added_.begin(), added_.end(),
                   [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  return Status::ok();
}

Result<Tokenizer> Tokenizer::load(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS)
    return Status(ErrorKind::kNotFound, path + ": cannot open");
  simdjson::dom::parser parser;
  element j;
  if (const auto err = parser.parse(text).get(j); err != simdjson::SUCCESS)
    return corrupt(path, fmt::format("bad JSON: {}", simdjson::error_message(err)));
  element model;
  if (j["model"].get(model) != simdjson::SUCCESS) return corrupt(path, "no model object");
  std::string pattern;
  WEDLM_RETURN_IF_ERROR(check_components(path, j, pattern));
  Tokenizer t;
  WEDLM_RETURN_IF_ERROR(t.read_model(path, model));
  WEDLM_RETURN_IF_ERROR(t.read_added(path, j));
  int err = 0;
  PCRE2_SIZE at = 0;
  t.split_ = std::make_unique<Regex>();
  t.split_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                                 PCRE2_UTF | PCRE2_UCP, &err, &at, nullptr);
  if (t.split_->code == nullptr) return corrupt(path, "the Split regex does not compile in PCRE2");
  t.jit_ = pcre2_jit_compile(t.split_->code, PCRE2_JIT_COMPLETE) == 0;  // else the interpreter
  return t;
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t>& out) const {
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
  std::lock_guard<std::mutex> lock(cache_->mu);
  if (cache_->map.size() > 200000) cache_->map.clear();
  cache_->map.emplace(std::string(piece), std::vector<int32_t>(out.begin() + long(first), out.end()));
}

void Tokenizer::bpe_uncached(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<std::string> syms;
  for (unsigned char b : piece) syms.push_back(byte_map().to_char[b]);
  while (syms.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const auto it = merge_rank_.find(syms[i] + " " + syms[i + 1]);
      if (it != merge_rank_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == INT_MAX) break;
    const std::string a = syms[at], b = syms[at + 1];
    std::vector<std::string> next;  // merge every occurrence of the pair, left to right
    for (size_t i = 0; i < syms.size(); ++i) {
      if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b) next.push_back(a + b), ++i;
      else next.push_back(syms[i]);
    }
    syms.swap(next);
  }
  for (const std::string& s : syms) {
    const auto it = vocab_.find(s);
    out.push_back(it == vocab_.end() ? -1 : it->second);  // ByteLevel covers every byte
  }
}

Status Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return Status::ok();
  std::string nfc_text;
  const bool ascii = is_ascii(text);
  if (!ascii) {  // ASCII is valid UTF-8 and already in NFC
    // By length, not NUL-terminated: a U+0000 inside the text is a character like any other.
    utf8proc_uint8_t* nfc = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     utf8proc_ssize_t(text.size()), &nfc, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) return Status(ErrorKind::kInvalidArgument, "text is not valid UTF-8");
    nfc_text.assign(reinterpret_cast<char*>(nfc), size_t(n));
    std::free(nfc);
  }
  const std::string_view s = ascii ? text : std::string_view(nfc_text);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(split_->code, nullptr);
  size_t pos = 0;
  while (pos < s.size()) {
    // utf8proc's NFC output is valid UTF-8: skip PCRE2's check of the whole subject, which it
    // would otherwise repeat at every call (quadratic in the text's length).
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
  if (std::find(out.begin(), out.end(), -1) != out.end())
    return Status(ErrorKind::kCorruptFile, "tokenizer.json lacks a byte-level base token");
  return Status::ok();
}

Result<std::vector<int32_t>> Tokenizer::encode(const std::string& text, bool parse_special) const {
  if (parse_special) return encode_protected(text, {});
  return encode_protected(text, {{0, text.size()}});
}

Result<std::vector<int32_t>> Tokenizer::encode_protected(
    const std::string& text, const std::vector<std::pair<size_t, size_t>>& guard) const {
  std::vector<int32_t> out;
  size_t pos = 0, plain_from = 0, g = 0;
  while (pos < text.size()) {
    while (g < guard.size() && guard[g].second <= pos) ++g;
    if (g < guard.size() && guard[g].first <= pos) {  // inside protected text: skip it whole
      pos = guard[g].second;
      continue;
    }
    if (!added_first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const size_t room = g < guard.size() ? guard[g].first - pos : text.size() - pos;
    const auto hit = std::find_if(added_.begin(), added_.end(), [&](const auto& a) {
      return !a.first.empty() && a.first.size() <= room &&
             text.compare(pos, a.first.size(), a.first) == 0;
    });
    if (hit == added_.end()) {
      ++pos;
      continue;
    }
    WEDLM_RETURN_IF_ERROR(encode_plain(std::string_view(text).substr(plain_from, pos - plain_from), out));
    out.push_back(hit->second);
    pos += hit->first.size();
    plain_from = pos;
  }
  WEDLM_RETURN_IF_ERROR(encode_plain(std::string_view(text).substr(plain_from), out));
  return out;
}

Result<std::string> Tokenizer::decode_bytes(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= pieces_.size() || !known_[size_t(id)])
      return Status(ErrorKind::kInvalidArgument, fmt::format("token id {} is not in the vocabulary", id));
    if (skip_special && special_.count(id)) continue;
    out += pieces_[size_t(id)];
  }
  return out;
}

int32_t Tokenizer::added_token_id(const std::string& content) const {
  for (const auto& [text, id] : added_)
    if (text == content) return id;
  return -1;
}

size_t complete_utf8_prefix(const std::string& s) {
  size_t i = s.size(), back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xc0) == 0x80) --i, ++back;
  if (i == 0) return s.size();
  const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  const size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? i - 1 : s.size();
}

}  // namespace wedlm
