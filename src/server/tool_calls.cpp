#include "server/tool_calls.h"

#include <nlohmann/json.hpp>

#include "server/json_fields.h"

namespace wedlm::server {

ParsedReply parse_tool_calls(const std::string& text) {
  static const std::string open = kToolCallOpen, close = "</tool_call>";
  ParsedReply r{text, {}};
  const size_t first = text.find(open);
  if (first == std::string::npos) return r;
  std::vector<ParsedToolCall> calls;
  size_t at = first;
  while (at != std::string::npos) {
    const size_t body = at + open.size();
    size_t end = text.find(close, body);
    const size_t next = text.find(open, body);
    if (end == std::string::npos || (next != std::string::npos && next < end))
      end = next == std::string::npos ? text.size() : next;  // unclosed: up to the next or the end
    const std::string call = text.substr(body, end - body);
    if (json_depth(call) > kMaxJsonDepth) return r;  // too deep to be a call: text
    const auto j = nlohmann::ordered_json::parse(call, nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return r;
    const nlohmann::ordered_json args = j.value("arguments", nlohmann::ordered_json::object());
    calls.push_back(
        {j["name"].get<std::string>(),
         args.is_string()
             ? args.get<std::string>()
             : args.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)});
    at = text.find(open, end);
    // only whitespace may sit between and after the calls, else it is not a tool-call reply
    const size_t rest = end + (text.compare(end, close.size(), close) == 0 ? close.size() : 0);
    const size_t stop = at == std::string::npos ? text.size() : at;
    if (text.find_first_not_of(" \t\r\n", rest) < stop) return r;
  }
  r.content = text.substr(0, first);
  r.calls = std::move(calls);
  return r;
}

}  // namespace wedlm::server
