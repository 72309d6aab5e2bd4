#include "server/tool_call_stream.h"

#include "server/ids.h"

namespace wedlm::server {
namespace {

constexpr std::string_view kOpen = "<tool_call>\n{\"name\": \"";
constexpr std::string_view kArgsKey = ", \"arguments\": ";
constexpr std::string_view kClose = "}\n</tool_call>";
constexpr std::string_view kNext = "\n<tool_call>\n{\"name\": \"";

}  // namespace

bool ToolCallStream::literal(char c, std::string_view lit) {
  if (at_ >= lit.size() || lit[at_] != c) return ok_ = false;
  ++at_;
  return true;
}

// The arguments value: every byte is passed on until the value's closing bracket.
void ToolCallStream::args(char c, std::vector<ToolCallDelta>& out) {
  if (out.empty() || out.back().index != index_ || out.back().first) {
    ToolCallDelta d;
    d.index = index_;
    out.push_back(d);
  }
  out.back().arguments += c;
  if (in_string_) {
    if (escaped_)
      escaped_ = false;
    else if (c == '\\')
      escaped_ = true;
    else if (c == '"')
      in_string_ = false;
  } else if (c == '"') {
    in_string_ = true;
  } else if (c == '{' || c == '[') {
    ++depth_;
  } else if (c == '}' || c == ']') {
    if (--depth_ == 0) state_ = State::kClose, at_ = 0;
  } else if (depth_ == 0) {
    ok_ = false;  // the grammar's arguments are objects
  }
}

std::vector<ToolCallDelta> ToolCallStream::push(std::string_view text) {
  std::vector<ToolCallDelta> out;
  for (char c : text) {
    if (!ok_) break;
    switch (state_) {
      case State::kOpen:
        if (literal(c, kOpen) && at_ == kOpen.size()) state_ = State::kName;
        break;
      case State::kName:
        if (c != '"') {
          name_ += c;
          break;
        }
        id_ = request_id("call_", index_);
        out.push_back({index_, true, id_, name_, ""});
        state_ = State::kArgsKey, at_ = 0;
        break;
      case State::kArgsKey:
        if (literal(c, kArgsKey) && at_ == kArgsKey.size()) state_ = State::kArgs;
        break;
      case State::kArgs: args(c, out); break;
      case State::kClose:
        if (literal(c, kClose) && at_ == kClose.size()) state_ = State::kBetween, at_ = 0;
        break;
      case State::kBetween:
        if (literal(c, kNext) && at_ == kNext.size()) {
          ++index_;
          name_.clear();
          state_ = State::kName;
        }
        break;
    }
  }
  return out;
}

}  // namespace wedlm::server
