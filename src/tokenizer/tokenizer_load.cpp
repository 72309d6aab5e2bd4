// Tokenizer::load: reads tokenizer.json (simdjson), checks that every component is one this class
// implements, and builds the vocabulary, merges, added tokens and the split regex.
#include <algorithm>

#include <fmt/core.h>
#include <simdjson.h>

#include "core/regular_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/fast_split.h"
#include "tokenizer/split_regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace wedlm {
namespace {

using simdjson::dom::element;

// A vocab string (byte-level chars) back to its bytes.
bool token_bytes(const std::string& tok, std::string& out) {
  const auto& inv = byte_map().to_byte;
  for (size_t i = 0; i < tok.size();) {
    const unsigned char c = static_cast<unsigned char>(tok[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80)
      cp = c, len = 1;
    else if ((c >> 5) == 6 && i + 1 < tok.size())
      cp = ((c & 0x1fu) << 6) | (tok[i + 1] & 0x3fu), len = 2;
    else
      return false;
    if (cp >= inv.size() || inv[cp] < 0) return false;
    out.push_back(static_cast<char>(inv[cp]));
    i += len;
  }
  return true;
}

Status corrupt(const std::string& path, const std::string& what) {
  return Status(ErrorKind::kCorruptFile, fmt::format("{}: {}", path, what));
}

Status unsupported(const std::string& path, const std::string& what) {
  return Status(ErrorKind::kUnsupported, fmt::format("{}: {} is not supported", path, what));
}

std::string str_or(element e, const char* key, const char* fallback = "") {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string(fallback);
}

bool bool_or(element e, const char* key, bool fallback) {
  bool v;
  return e[key].get(v) == simdjson::SUCCESS ? v : fallback;
}

bool is_null_or_absent(element j, const char* key) {
  element v;
  return j[key].get(v) != simdjson::SUCCESS || v.is_null();
}

// The pipeline this class implements; anything else is refused by name.
struct Pipeline {
  bool nfc = false, add_prefix_space = false;
  std::string pattern;
};

Status check_pre_tokenizer(const std::string& path, element pre, Pipeline& p) {
  std::vector<element> steps;
  simdjson::dom::array list;
  if (str_or(pre, "type") == "Sequence" && pre["pretokenizers"].get(list) == simdjson::SUCCESS)
    for (element st : list) steps.push_back(st);
  else
    steps.push_back(pre);
  for (element st : steps) {
    const std::string type = str_or(st, "type", "?");
    std::string_view regex;
    if (type == "Split") {
      if (st["pattern"]["Regex"].get(regex) != simdjson::SUCCESS)
        return unsupported(path, "a Split pre_tokenizer without a Regex pattern");
      if (str_or(st, "behavior") != "Isolated" || bool_or(st, "invert", false))
        return unsupported(path, fmt::format("Split behavior '{}' (invert {})",
                                             str_or(st, "behavior"), bool_or(st, "invert", false)));
      if (!p.pattern.empty()) return unsupported(path, "more than one regex pre_tokenizer step");
      p.pattern = std::string(regex);
    } else if (type == "ByteLevel") {
      const bool regex = bool_or(st, "use_regex", true);
      p.add_prefix_space = bool_or(st, "add_prefix_space", false);
      if (p.add_prefix_space && !regex)
        return unsupported(path, "ByteLevel add_prefix_space after a Split step");
      if (regex) {
        if (!p.pattern.empty()) return unsupported(path, "more than one regex pre_tokenizer step");
        p.pattern = kByteLevelPattern;
      }
    } else {
      return unsupported(path, fmt::format("pre_tokenizer step '{}'", type));
    }
  }
  if (p.pattern.empty()) return unsupported(path, "a pre_tokenizer without a split regex");
  return Status::ok();
}

Status check_components(const std::string& path, element j, Pipeline& p) {
  if (!is_null_or_absent(j, "normalizer")) {
    const std::string type = str_or(j["normalizer"], "type", "?");
    if (type != "NFC") return unsupported(path, fmt::format("normalizer type '{}'", type));
    p.nfc = true;
  }
  if (is_null_or_absent(j, "pre_tokenizer")) return corrupt(path, "no pre_tokenizer");
  WEDLM_RETURN_IF_ERROR(check_pre_tokenizer(path, j["pre_tokenizer"], p));
  if (str_or(j["model"], "type") != "BPE")
    return unsupported(path, fmt::format("model type '{}'", str_or(j["model"], "type", "?")));
  if (!is_null_or_absent(j, "post_processor") && str_or(j["post_processor"], "type") != "ByteLevel")
    return unsupported(
        path, fmt::format("post_processor type '{}'", str_or(j["post_processor"], "type", "?")));
  if (!is_null_or_absent(j, "decoder") && str_or(j["decoder"], "type") != "ByteLevel")
    return unsupported(path, fmt::format("decoder type '{}'", str_or(j["decoder"], "type", "?")));
  return Status::ok();
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

void Tokenizer::AddedSet::add(AddedToken t) {
  if (t.content.empty()) return;
  first_byte[static_cast<unsigned char>(t.content[0])] = true;
  const auto at = std::find_if(tokens.begin(), tokens.end(), [&](const AddedToken& x) {
    return x.content.size() < t.content.size();
  });
  tokens.insert(at, std::move(t));  // longest first; equal lengths keep file order
}

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
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(byte_map().to_char[b]);
    byte_id_[b] = it == vocab_.end() ? -1 : it->second;
  }
  simdjson::dom::array merges;
  if (model["merges"].get(merges) != simdjson::SUCCESS)
    return corrupt(path, "no model.merges array (a BPE tokenizer cannot split words without it)");
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (element m : merges) {
    std::string_view a, b;
    simdjson::dom::array pair;
    if (m.get(a) == simdjson::SUCCESS) {  // "a b"
      const size_t sp = a.find(' ');
      b = sp == std::string_view::npos ? std::string_view() : a.substr(sp + 1);
      a = a.substr(0, sp);
    } else if (!(m.get(pair) == simdjson::SUCCESS && pair.size() == 2 &&
                 pair.at(0).get(a) == simdjson::SUCCESS &&
                 pair.at(1).get(b) == simdjson::SUCCESS)) {
      a = b = {};
    }
    if (a.empty() || b.empty())
      return corrupt(path, fmt::format("merge {} is not \"a b\" or [a, b]", rank));
    const auto left = vocab_.find(std::string(a)), right = vocab_.find(std::string(b));
    const auto merged = vocab_.find(std::string(a) + std::string(b));
    if (left == vocab_.end() || right == vocab_.end() || merged == vocab_.end())
      return corrupt(path, fmt::format("merge {} ('{}' + '{}') names a token not in the vocabulary",
                                       rank, a.substr(0, 40), b.substr(0, 40)));
    const uint64_t key = uint64_t(uint32_t(left->second)) << 32 | uint32_t(right->second);
    merges_.emplace(key, Merge{rank++, merged->second});  // a repeated pair keeps its first rank
  }
  return Status::ok();
}

Status Tokenizer::read_added(const std::string& path, element j) {
  simdjson::dom::array added;
  if (j["added_tokens"].get(added) != simdjson::SUCCESS) return Status::ok();
  for (element a : added) {
    AddedToken t;
    int64_t id = -1;
    std::string_view content;
    if (a["id"].get(id) != simdjson::SUCCESS || a["content"].get(content) != simdjson::SUCCESS ||
        content.empty() || !put_piece(id, std::string(content)))
      return corrupt(path, "bad added_tokens entry " + simdjson::to_string(a));
    if (bool_or(a, "single_word", false))
      return unsupported(path, fmt::format("added token '{}': single_word", content));
    t.id = int32_t(id);
    t.special = bool_or(a, "special", false);
    t.lstrip = bool_or(a, "lstrip", false);
    t.rstrip = bool_or(a, "rstrip", false);
    t.normalized = bool_or(a, "normalized", !t.special);
    t.content = std::string(content);
    if (std::string nfc; t.normalized && nfc_ && append_nfc(content, nfc)) t.content = nfc;
    if (t.special) special_.insert(t.id);
    (t.normalized ? norm_added_ : raw_added_).add(std::move(t));
  }
  return Status::ok();
}

Status Tokenizer::compile_split(const std::string& path, const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE at = 0;
  split_ = std::make_unique<Regex>();
  split_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                               PCRE2_UTF | PCRE2_UCP, &err, &at, nullptr);
  if (split_->code == nullptr)
    return corrupt(path,
                   fmt::format("the split regex does not compile in PCRE2 (at offset {})", at));
  jit_ = pcre2_jit_compile(split_->code, PCRE2_JIT_COMPLETE) == 0;  // else the interpreter
  return Status::ok();
}

Result<Tokenizer> Tokenizer::load(const std::string& path, const TokenizerOptions& options) {
  WEDLM_RETURN_IF_ERROR(check_regular_file(path));
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS)
    return Status(ErrorKind::kNotFound, path + ": cannot open");
  simdjson::dom::parser parser;
  element j;
  if (const auto err = parser.parse(text).get(j); err != simdjson::SUCCESS)
    return corrupt(path, fmt::format("bad JSON: {}", simdjson::error_message(err)));
  element model;
  if (j["model"].get(model) != simdjson::SUCCESS) return corrupt(path, "no model object");
  Pipeline p;
  WEDLM_RETURN_IF_ERROR(check_components(path, j, p));
  Tokenizer t;
  t.nfc_ = p.nfc;
  t.add_prefix_space_ = p.add_prefix_space;
  WEDLM_RETURN_IF_ERROR(t.read_model(path, model));
  WEDLM_RETURN_IF_ERROR(t.read_added(path, j));
  WEDLM_RETURN_IF_ERROR(t.compile_split(path, p.pattern));
  if (!options.pcre2_split) t.fast_split_ = int(recognize_split_pattern(p.pattern));
  return t;
}

}  // namespace wedlm
