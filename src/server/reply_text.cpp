#include "server/reply_text.h"

#include <algorithm>

namespace wedlm::server {

size_t ReplyText::safe_end() const {
  size_t end = all_.size();
  const size_t sent = sent_text_.size();
  for (const std::string& s : stops_) {
    const size_t from = sent >= s.size() ? sent - s.size() + 1 : 0;
    if (const size_t at = all_.find(s, from); at != std::string::npos) end = std::min(end, at);
    // the longest tail of the text that is a proper prefix of s
    for (size_t n = std::min(s.size() - 1, all_.size()); n > 0; --n)
      if (all_.compare(all_.size() - n, n, s, 0, n) == 0) {
        end = std::min(end, all_.size() - n);
        break;
      }
  }
  return std::max(end, sent);
}

std::string ReplyText::push(std::span<const int32_t> ids) {
  auto t = detok_.push(ids);
  if (t.is_ok()) all_ += t.value();
  const size_t end = safe_end();
  std::string out = all_.substr(sent_text_.size(), end - sent_text_.size());
  sent_text_ += out;
  return out;
}

std::string ReplyText::finish(std::optional<size_t> text_end) {
  all_ += detok_.finish();
  const size_t end =
      std::max(std::min(text_end.value_or(all_.size()), all_.size()), sent_text_.size());
  std::string out = all_.substr(sent_text_.size(), end - sent_text_.size());
  sent_text_ += out;
  return out;
}

}  // namespace wedlm::server
