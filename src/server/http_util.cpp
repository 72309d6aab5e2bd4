#include "server/http_util.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/core.h>
#include "http/message.h"

#include "server/json_fields.h"
#include "tokenizer/utf8.h"

namespace wedlm::server {

using json = nlohmann::ordered_json;

void send_error(http::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(error_body(e), "application/json");
}

void send_json(http::Response& res, const ojson& j) {
  res.status = 200;
  res.set_content(dumped(j), "application/json");
}

std::string dumped(const ojson& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiResult<json> json_body(const http::Request& req) {
  const std::string type = req.header("Content-Type");
  std::string media = type.substr(0, type.find(';'));  // case-insensitive, parameters apart
  media.erase(media.find_last_not_of(" \t") + 1);
  media.erase(0, media.find_first_not_of(" \t"));
  for (char& c : media) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (!type.empty() && media != "application/json")
    return ApiError{415, "invalid_request_error",
                    "Content-Type must be application/json, got '" + type + "'", "", ""};
  if (!is_valid_utf8(req.body)) {
    size_t at = 0;
    while (const size_t n = utf8_sequence_at(req.body, at)) at += n;
    return invalid_request(fmt::format("the request body is not valid UTF-8 (byte {})", at));
  }
  if (json_depth(req.body) > kMaxJsonDepth)
    return invalid_request(
        fmt::format("the request body nests arrays and objects more than {} deep", kMaxJsonDepth));
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::parse_error& e) {  // where, and what the parser expected there
    std::string_view what = e.what();     // "[json.exception.parse_error.101] parse error at ..."
    what.remove_prefix(std::min(what.find("parse error"), what.size()));
    return invalid_request(fmt::format("the request body is not valid JSON (byte {}): {}", e.byte,
                                       what.substr(0, 300)));
  } catch (const json::exception& e) {  // e.g. out_of_range: a number past a double's range
    std::string_view what = e.what();
    what.remove_prefix(std::min(what.find("] ") + 2, what.size()));
    return invalid_request(
        fmt::format("the request body is not valid JSON: {}", what.substr(0, 300)));
  }
  if (!j.is_object()) return invalid_request("the request body must be a JSON object");
  return j;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace wedlm::server
