#include "tokenizer/detokenizer.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace wedlm {
namespace {

// GPT-2 bytes_to_unicode, inverted: code point -> byte.
std::vector<int> unicode_to_byte() {
  std::vector<int> inv(512, -1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    inv[static_cast<size_t>(printable ? b : 256 + n++)] = b;
  }
  return inv;
}

// Decodes the UTF-8 token string into code points and maps each to its byte.
bool token_bytes(const std::string& tok, const std::vector<int>& inv, std::string& out) {
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

}  // namespace

Result<Detokenizer> Detokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorKind::kNotFound, path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("model") || !j["model"].contains("vocab"))
    return Status(ErrorKind::kCorruptFile, path + ": not a tokenizer.json with model.vocab");
  Detokenizer d;
  const auto inv = unicode_to_byte();
  auto put = [&](int64_t id, std::string bytes) {
    if (id < 0 || id > (1 << 24)) return false;
    if (size_t(id) >= d.pieces_.size()) d.pieces_.resize(size_t(id) + 1), d.known_.resize(size_t(id) + 1);
    d.pieces_[size_t(id)] = std::move(bytes);
    d.known_[size_t(id)] = true;
    return true;
  };
  for (const auto& [tok, id] : j["model"]["vocab"].items()) {
    std::string bytes;
    if (!id.is_number_integer() || !token_bytes(tok, inv, bytes) || !put(id.get<int64_t>(), bytes))
      return Status(ErrorKind::kCorruptFile,
                    fmt::format("{}: vocab entry '{}' is not a byte-level token", path, tok));
  }
  for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
    if (!put(a.value("id", int64_t(-1)), a.value("content", std::string())))
      return Status(ErrorKind::kCorruptFile, path + ": bad added_tokens entry " + a.dump());
    if (a.value("special", false)) d.special_.insert(a["id"].get<int32_t>());
    d.added_.emplace_back(a.value("content", std::string()), a["id"].get<int32_t>());
  }
  return d;
}

Result<std::string> Detokenizer::decode_bytes(std::span<const int32_t> ids,
                                              bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= pieces_.size() || !known_[size_t(id)])
      return Status(ErrorKind::kInvalidArgument, fmt::format("token id {} is not in the vocabulary", id));
    if (skip_special && special_.count(id)) continue;
    out += pieces_[size_t(id)];
  }
  return out;
}

int32_t Detokenizer::added_token_id(const std::string& content) const {
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
