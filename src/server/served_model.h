// What the server knows of the model it serves: tokenizer, chat template, limits and the request
// defaults. Built once at startup (tools/serve.cpp); read-only afterwards, shared by HTTP threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "decode/generate_params.h"
#include "io/model_config.h"
#include "ops/sampling/sampling.h"
#include "server/constraints.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace wedlm::server {

struct ServedModel {
  std::string name;                  // the id clients see: the first --served-model-name
  std::vector<std::string> aliases;  // further names a request may give
  bool any_model = false;            // answer whatever "model" a request names (--any-model)
  const Tokenizer* tok = nullptr;
  const ChatTemplate* chat = nullptr;
  ModelConfig config;
  ModelFacts facts;                  // the engine's: context (-c), stop ids (eos ids, <|im_end|>,
                                     // <|endoftext|>), mask id, text
  SamplingParams sampling;           // defaults when a request leaves them out
  int64_t created = 0;               // unix time the model was loaded (for /v1/models)
  GrammarCache* grammars = nullptr;  // constrained replies (null: refused)

  // Whether a request naming `model` is for this server: its name, an alias, or any with
  // any_model.
  bool serves(const std::string& model) const {
    return any_model || model == name ||
           std::find(aliases.begin(), aliases.end(), model) != aliases.end();
  }
};

}  // namespace wedlm::server
