// Errors of the HTTP API in OpenAI's shape: {"error": {"message", "type", "param", "code"}}, with
// the HTTP status that goes with them. Every failure the server answers goes through here.
#pragma once

#include <string>

#include "core/status.h"

namespace wedlm::server {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";  // OpenAI's (and llama-server's) error types
  std::string message;
  std::string param;  // the offending request field, "" for none
  std::string code;   // e.g. "context_length_exceeded", "" for none
};

ApiError invalid_request(std::string message, std::string param = "", std::string code = "");
ApiError unavailable(std::string message);  // 503
// A library Status as the API answers it (the one place where kinds become HTTP statuses).
ApiError from_status(const Status& s);
// An error of Engine::submit: every field was range-checked by the parser, so what the engine
// refuses as invalid is the prompt (its fit in the context or the KV pool): param "messages"
// (chat) or "prompt".
ApiError submit_error(const Status& s, bool chat);
// {"error": {...}} with nulls for an empty param or code.
std::string error_body(const ApiError& e);
// The canonical error for a bare HTTP status (404 route, 413 body, ...).
ApiError from_http_status(int status);

}  // namespace wedlm::server
