// libFuzzer: an OpenAI request body as the server reads it (json_body: content checks, nesting,
// JSON), then as a chat and as a completion request for the bundled model (fields, messages,
// tools, tool calls, the chat template, tokenizing, response_format schemas compiled). Anything is
// an answer or an ApiError.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "http/message.h"
#include "io/model_config.h"
#include "server/http_util.h"
#include "server/parse_request.h"
#include "server/served_model.h"

namespace {

const wedlm::server::ServedModel& served() {
  static const std::string dir = WEDLM_SOURCE_DIR "/models/wedlm-tiny";
  static const wedlm::Tokenizer tok = wedlm::Tokenizer::load(dir + "/tokenizer.json").value();
  static const wedlm::ChatTemplate chat = wedlm::ChatTemplate::load(dir);
  static const wedlm::server::ServedModel m = [] {
    wedlm::server::ServedModel s;
    s.name = "wedlm-tiny";
    s.tok = &tok;
    s.chat = &chat;
    s.config = wedlm::load_model_config(dir).value();
    s.facts = wedlm::facts_of(s.config);
    static wedlm::server::GrammarCache grammars(wedlm::server::vocabulary_of(tok, s.facts));
    s.grammars = &grammars;  // response_format and tool_choice compile their grammars
    return s;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wedlm::http::Request req;
  req.method = "POST";
  req.headers.push_back({"Content-Type", "application/json"});
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = wedlm::server::json_body(req);
  if (auto* e = std::get_if<wedlm::server::ApiError>(&body)) {
    if (e->message.empty() || e->status < 400) std::abort();
    return 0;
  }
  const auto& j = std::get<nlohmann::ordered_json>(body);
  for (bool chat : {true, false}) {
    auto r = chat ? wedlm::server::parse_chat(j, served(), 1)
                  : wedlm::server::parse_completion(j, served(), 1);
    if (auto* e = std::get_if<wedlm::server::ApiError>(&r); e && e->message.empty()) std::abort();
  }
  return 0;
}
