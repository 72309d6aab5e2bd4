// A streaming client of any OpenAI-compatible /v1/chat/completions or /v1/completions endpoint
// (ours, vLLM, llama-server, ...), timing what a user sees: the first content chunk, the gaps
// between content chunks, the end. Token counts come from the final usage chunk
// (stream_options.include_usage), else one token per content chunk.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace wedlm::bench {

struct ClientConfig {
  std::string base_url = "http://127.0.0.1:8080";  // scheme://host:port
  std::string endpoint = "/v1/chat/completions";   // or /v1/completions
  std::string api_key;
  int timeout_s = 600;
};

struct RequestOutcome {
  bool ok = false;
  std::string error;  // HTTP status and the server's message, or the socket error
  double ttft_ms = 0, e2e_ms = 0;
  std::vector<double> itl_ms;  // gaps between consecutive content chunks
  int64_t prompt_tokens = 0, output_tokens = 0, cached_tokens = 0, n_chunks = 0;
  bool usage_reported = false;
  std::string text, finish_reason;
};

// The id of the first model the server lists at GET /v1/models (what requests name when the
// user names none); an error naming the URL and what came back otherwise.
Result<std::string> first_model(const ClientConfig& cfg);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Sends `body` with "stream": true and usage requested, with `headers` added; blocks until the
// stream ends. A stream cut before its [DONE] event is a failed request.
RequestOutcome stream_request(const ClientConfig& cfg, nlohmann::json body,
                              const HeaderList& headers = {});

// Parses SSE bytes as they arrive: complete "data:" events go to on_event, the rest is kept.
class SseParser {
 public:
  template <class F>
  void feed(const char* data, size_t n, F&& on_event) {
    buf_.append(data, n);
    for (size_t end; (end = buf_.find("\n\n")) != std::string::npos;) {
      const std::string event = buf_.substr(0, end);
      buf_.erase(0, end + 2);
      if (event.rfind("data: ", 0) == 0)
        on_event(event.substr(6));
      else if (event.rfind("data:", 0) == 0)
        on_event(event.substr(5));
    }
  }

 private:
  std::string buf_;
};

}  // namespace wedlm::bench
