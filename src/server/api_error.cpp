#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace wedlm::server {

ApiError invalid_request(std::string message, std::string param, std::string code) {
  return {400, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}

ApiError unavailable(std::string message) {
  return {503, "unavailable_error", std::move(message), "", ""};
}

ApiError from_status(const Status& s) {
  switch (s.kind()) {
    case ErrorKind::kInvalidArgument: return invalid_request(s.message());
    case ErrorKind::kOverloaded: return unavailable(s.message());
    case ErrorKind::kUnsupported: return {501, "not_supported_error", s.message(), "", ""};
    case ErrorKind::kNotFound: return {404, "not_found_error", s.message(), "", ""};
    default: return {500, "server_error", s.message(), "", ""};
  }
}

ApiError submit_error(const Status& s, bool chat) {
  if (s.kind() == ErrorKind::kInvalidArgument)
    return invalid_request(s.message(), chat ? "messages" : "prompt");
  return from_status(s);
}

std::string error_body(const ApiError& e) {
  const auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
  };
  nlohmann::ordered_json j = {{"error",
                               {{"message", e.message},
                                {"type", e.type},
                                {"param", or_null(e.param)},
                                {"code", or_null(e.code)}}}};
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ApiError from_http_status(int status) {
  switch (status) {
    case 404: return {404, "not_found_error", "no such endpoint", "", ""};
    case 405: return {405, "invalid_request_error", "method not allowed on this endpoint", "", ""};
    case 413:
      return {413, "invalid_request_error", "the request body is larger than the server accepts",
              "", "request_too_large"};
    case 400: return invalid_request("malformed HTTP request");
    case 408:
      return {408, "invalid_request_error", "the request did not arrive in time", "",
              "request_timeout"};
    case 431:
      return {431, "invalid_request_error", "the request's header fields are too large", "",
              "headers_too_large"};
    case 503: return unavailable("the server is busy: retry later");
    default:
      return {status, status >= 500 ? "server_error" : "invalid_request_error",
              "HTTP error " + std::to_string(status), "", ""};
  }
}

}  // namespace wedlm::server
