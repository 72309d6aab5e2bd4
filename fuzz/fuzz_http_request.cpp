// libFuzzer: the HTTP/1.1 request parser. Any bytes, fed whole and fed in two pieces (the first
// input byte picks the split), must give the same outcome: state, status, request and leftover;
// then pipelined requests are parsed from what is left. Small limits, so they are reached.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/request_parser.h"

using wedlm::http::Limits;
using wedlm::http::RequestParser;

namespace {

struct Outcome {
  RequestParser::State state = RequestParser::State::kHead;
  int status = 0;
  std::string method, target, body, rest;
  size_t headers = 0;
};

Outcome parse(const std::string& bytes, size_t split) {
  RequestParser p(Limits{2048, 16, 4096});
  std::string in = bytes.substr(0, split);
  RequestParser::State st = p.feed(in);
  if (st == RequestParser::State::kHead || st == RequestParser::State::kBody) {
    in += bytes.substr(split);
    st = p.feed(in);
  } else {
    in += bytes.substr(split);
  }
  Outcome o;
  o.state = st;
  if (st == RequestParser::State::kFailed) o.status = p.error().status;
  o.method = p.request().method, o.target = p.request().target, o.body = p.request().body;
  o.headers = p.request().headers.size();
  o.rest = in;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = parse(bytes, bytes.size());
  const Outcome pieces = parse(bytes, bytes.empty() ? 0 : data[0] % bytes.size());
  if (whole.state != pieces.state || whole.status != pieces.status ||
      (whole.state == RequestParser::State::kDone &&
       (whole.method != pieces.method || whole.target != pieces.target ||
        whole.body != pieces.body || whole.rest != pieces.rest || whole.headers != pieces.headers)))
    std::abort();  // feeding in pieces changed the outcome
  RequestParser p(Limits{2048, 16, 4096});
  std::string in = bytes;
  for (int i = 0; i < 64 && p.feed(in) == RequestParser::State::kDone; ++i) p.reset();
  return 0;
}
