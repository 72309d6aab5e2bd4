// Small pieces shared by the server's endpoints: JSON bodies in, JSON and errors out, clocks,
// request ids and seeds (ids.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/ids.h"
#include "server/openai_format.h"
#include "server/parse_request.h"

namespace wedlm::http {
struct Request;
struct Response;
}  // namespace wedlm::http

namespace wedlm::server {

// An OpenAI error object with its status (and Retry-After on 503, WWW-Authenticate on 401).
void send_error(http::Response& res, const ApiError& e);
void send_json(http::Response& res, const ojson& j);
std::string dumped(const ojson& j);  // one line; invalid UTF-8 replaced
// The body as a JSON object, or the error that says why it is not one (content type, UTF-8,
// nesting deeper than 100, syntax, not an object).
ApiResult<nlohmann::ordered_json> json_body(const http::Request& req);

double ms_since(std::chrono::steady_clock::time_point t);
int64_t unix_now();

// Counts a request as in flight for as long as it lives.
class InFlight {
 public:
  explicit InFlight(std::atomic<int64_t>& n) : n_(n) { ++n_; }
  ~InFlight() { --n_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int64_t>& n_;
};

}  // namespace wedlm::server
