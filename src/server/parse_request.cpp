#include "server/parse_request.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include <fmt/core.h>

#include "server/json_fields.h"
#include "server/tool_calls.h"

namespace wedlm::server {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kContextCode = "context_length_exceeded";  // OpenAI's error code

ApiError field_error(const std::string& param, const std::string& message) {
  return invalid_request(message, param);
}

// Content: a string, or an array of {"type": "text", "text": ...} parts (joined).
ApiResult<std::string> content_of(const json& c, const std::string& where) {
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array())
    return field_error(where, fmt::format("'{}' must be a string or an array of text parts, got {}",
                                          where, shown(c)));
  std::string text;
  for (size_t j = 0; j < c.size(); ++j) {
    const json& part = c[j];
    if (!part.is_object() || part.value("type", json()) != "text" ||
        !part.value("text", json()).is_string())
      return field_error(where, fmt::format("'{}[{}]': only {{\"type\": \"text\", \"text\": ...}} "
                                            "parts are supported, got {}",
                                            where, j, shown(part)));
    text += part["text"].get<std::string>();
  }
  return text;
}

ApiResult<std::vector<ToolCall>> tool_calls_of(const json& calls, const std::string& where) {
  std::vector<ToolCall> out;
  if (!calls.is_array()) return field_error(where, "'" + where + "' must be an array");
  for (size_t j = 0; j < calls.size(); ++j) {
    const json& f = calls[j].is_object() ? calls[j].value("function", json()) : json();
    if (!f.is_object() || !f.value("name", json()).is_string())
      return field_error(where,
                         fmt::format("'{}[{}]' needs a 'function' with a string 'name'", where, j));
    ToolCall t{f["name"].get<std::string>(), nlohmann::ordered_json::object()};
    const json args = f.value("arguments", json::object());
    if (args.is_string()) {  // OpenAI sends a string of JSON; the templates print the object
      const std::string& text = args.get_ref<const std::string&>();
      if (json_depth(text) > kMaxJsonDepth)
        return field_error(where, fmt::format("'{}[{}].function.arguments' nests arrays and "
                                              "objects more than {} deep",
                                              where, j, kMaxJsonDepth));
      t.arguments = nlohmann::ordered_json::parse(text, nullptr, false);
      if (t.arguments.is_discarded()) t.arguments = text;
    } else {
      t.arguments = nlohmann::ordered_json(args);
    }
    out.push_back(std::move(t));
  }
  return out;
}

ApiResult<ChatMessage> message_of(const json& msg, size_t i) {
  const std::string where = fmt::format("messages[{}]", i);
  if (!msg.is_object()) return field_error(where, "'" + where + "' must be an object");
  const json role = msg.value("role", json());
  static const std::vector<std::string> kRoles = {"system", "developer", "user", "assistant",
                                                  "tool"};
  if (!role.is_string() ||
      std::find(kRoles.begin(), kRoles.end(), role.get<std::string>()) == kRoles.end())
    return field_error(where + ".role", fmt::format("'{}.role' must be system, developer, user, "
                                                    "assistant or tool, got {}",
                                                    where, shown(role)));
  ChatMessage m{role == "developer" ? "system" : role.get<std::string>(), ""};
  const json content = msg.value("content", json());
  const bool has_calls = msg.contains("tool_calls") && !msg["tool_calls"].is_null();
  if (!content.is_null()) {
    auto c = content_of(content, where + ".content");
    if (auto* e = std::get_if<ApiError>(&c)) return *e;
    m.content = std::get<std::string>(c);
  } else if (m.role != "assistant" || !has_calls) {
    return field_error(where + ".content", "'" + where + ".content' is required");
  }
  if (has_calls) {
    auto calls = tool_calls_of(msg["tool_calls"], where + ".tool_calls");
    if (auto* e = std::get_if<ApiError>(&calls)) return *e;
    m.tool_calls = std::get<std::vector<ToolCall>>(calls);
  }
  if (msg.contains("reasoning_content") && msg["reasoning_content"].is_string())
    m.reasoning_content = msg["reasoning_content"].get<std::string>();
  return m;
}

// max_tokens within the context, and the common decoding fields, into p.
void read_limits(JsonFields& f, GenerateParams& p, int64_t n_prompt, const ServedModel& m,
                 const std::string& prompt_field) {
  const int64_t ctx = m.facts.context;
  if (n_prompt >= ctx) {
    f.fail(prompt_field,
           fmt::format("This model's maximum context length is {} tokens, and "
                       "the prompt has {} tokens, which leaves none to generate. "
                       "Please shorten the prompt.",
                       ctx, n_prompt),
           kContextCode);
    return;
  }
  const char* name = f.get("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  const auto max = f.integer(name, 1, std::numeric_limits<int32_t>::max());
  p.max_tokens = max.value_or(ctx - n_prompt);
  if (max && n_prompt + *max > ctx)
    f.fail(name,
           fmt::format("This model's maximum context length is {} tokens. However, you "
                       "requested {} tokens ({} in the prompt, {} in the completion). "
                       "Please reduce the length of the prompt or '{}'.",
                       ctx, n_prompt + *max, n_prompt, *max, name),
           kContextCode);
}

// Fields OpenAI defines that this server cannot honour: refused by name unless neutral.
void refuse_unsupported(JsonFields& f) {
  if (auto b = f.integer("best_of", 1, 128); b && *b != 1) f.fail("best_of", "'best_of' must be 1");
  if (f.boolean("echo").value_or(false)) f.fail("echo", "'echo' is not supported");
  if (const json* s = f.get("suffix"); s && !(s->is_string() && s->get<std::string>().empty()))
    f.fail("suffix", "'suffix' is not supported");
}

std::vector<std::string> stops_of(JsonFields& f) {
  const json* s = f.get("stop");
  std::vector<std::string> out;
  if (!s) return out;
  const auto is_string = [](const json& v) { return v.is_string(); };
  if (!s->is_string() &&
      !(s->is_array() && s->size() <= 16 && std::all_of(s->begin(), s->end(), is_string))) {
    f.fail("stop", "'stop' must be a string or an array of at most 16 strings, got " + shown(*s));
    return out;
  }
  for (const json& v : s->is_string() ? json::array({*s}) : *s) {
    if (v.get<std::string>().size() > 1000) {  // held-back text is searched for each one
      f.fail("stop", "'stop' strings must be at most 1000 bytes long");
      return {};
    }
    if (!v.get<std::string>().empty()) out.push_back(v.get<std::string>());  // "" stops nothing
  }
  return out;
}

void read_sampling(JsonFields& f, GenerateParams& p, const ServedModel& m, uint64_t seed) {
  p.sampling = m.sampling;
  p.sampling.temperature = f.number("temperature", 0, 2).value_or(p.sampling.temperature);
  p.sampling.top_p = f.number("top_p", 0, 1).value_or(p.sampling.top_p);
  if (p.sampling.top_p == 0) f.fail("top_p", "'top_p' must be greater than 0");
  const int64_t k =
      f.integer("top_k", -1, std::numeric_limits<int32_t>::max()).value_or(p.sampling.top_k);
  p.sampling.top_k = std::max<int64_t>(k, 0);  // -1 (vLLM) and 0 both mean off
  const json* big = f.get("seed");
  if (big && big->is_number_unsigned()) {  // any 64-bit pattern, signed or not
    p.sampling.seed = big->get<uint64_t>();
    return;
  }
  const auto s =
      f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  p.sampling.seed = s ? uint64_t(*s) : seed;
}

// presence_penalty, frequency_penalty, repetition_penalty (vLLM's), logit_bias ({"id": bias}).
void read_penalties(JsonFields& f, GenerateParams& p, const ServedModel& m) {
  p.presence_penalty = f.number("presence_penalty", -2, 2).value_or(0);
  p.frequency_penalty = f.number("frequency_penalty", -2, 2).value_or(0);
  p.repetition_penalty = f.number("repetition_penalty", 0, 100).value_or(1);
  if (p.repetition_penalty == 0) f.fail("repetition_penalty", "'repetition_penalty' must be > 0");
  const json* lb = f.get("logit_bias");
  if (!lb) return;
  if (!lb->is_object() || lb->size() > 1024)
    return f.fail("logit_bias",
                  "'logit_bias' must be an object of at most 1024 "
                  "{\"token id\": bias} entries, got " +
                      shown(*lb));
  for (const auto& [key, bias] : lb->items()) {
    char* end = nullptr;
    const long long id = std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end || id < 0 || id >= m.config.vocab_size)
      return f.fail("logit_bias", fmt::format("'logit_bias' key '{}' is not a token id in [0, {})",
                                              key.substr(0, 40), m.config.vocab_size));
    if (!bias.is_number() || !(bias.get<double>() >= -100 && bias.get<double>() <= 100))
      return f.fail("logit_bias", fmt::format("'logit_bias' of token {} must be a number in "
                                              "[-100, 100], got {}",
                                              id, shown(bias)));
    p.logit_bias.emplace_back(int32_t(id), bias.get<float>());
  }
}

void read_wedlm(JsonFields& f, GenerateParams& p) {
  if (auto mode = f.string("decode_mode")) {
    if (*mode != "wedlm" && *mode != "ar")
      f.fail("decode_mode", "'decode_mode' must be \"wedlm\" or \"ar\", got \"" + *mode + "\"");
    p.mode = *mode == "ar" ? DecodeMode::kAR : DecodeMode::kWeDLM;
  }
  p.window = f.integer("wedlm_window", 1, 256).value_or(p.window);
  if (f.has("wedlm_threshold") && !f.get("wedlm_threshold")) p.threshold.reset();  // null: none
  if (auto t = f.number("wedlm_threshold", 0, 1e9)) p.threshold = *t;
  p.penalty = f.number("wedlm_penalty", 0, 1e9).value_or(p.penalty);
}

// The model a request names, if this server serves it; the served name when it names none.
ApiResult<std::string> model_of(const json& body, const ServedModel& m) {
  const auto it = body.find("model");
  if (it == body.end() || it->is_null()) return m.name;
  if (!it->is_string()) return field_error("model", "'model' must be a string, got " + shown(*it));
  const std::string& name = it->get_ref<const std::string&>();
  if (m.serves(name)) return name;
  return ApiError{404, "invalid_request_error",
                  fmt::format("The model '{}' does not exist: this server serves '{}'",
                              name.substr(0, 200), m.name),
                  "model", "model_not_found"};
}

// The fields both endpoints share, after the prompt is known.
ApiResult<ApiRequest> finish_request(JsonFields& f, ApiRequest r, const ServedModel& m,
                                     uint64_t seed, const std::string& prompt_field) {
  GenerateParams& p = r.engine.params;
  p.ignore_eos = f.boolean("ignore_eos").value_or(false);  // vLLM's, for benchmarks
  read_limits(f, p, int64_t(r.engine.prompt.size()), m, prompt_field);
  read_sampling(f, p, m, seed);
  read_penalties(f, p, m);
  read_wedlm(f, p);
  refuse_unsupported(f);
  const json* n = f.get("n");
  if (n && !(n->is_number_integer() && *n >= 1 && *n <= kMaxChoices))
    f.fail("n", fmt::format("'n' must be an integer from 1 to {} (choices of one request), got {}",
                            kMaxChoices, shown(*n)));
  else if (n)
    r.n = n->get<int64_t>();
  p.stop_strings = stops_of(f);  // matched on the served model's text (ServedModel::facts)
  r.stream = f.boolean("stream").value_or(false);
  if (const json* so = f.get("stream_options")) {
    if (!so->is_object())
      f.fail("stream_options", "'stream_options' must be an object");
    else if (so->contains("include_usage")) {
      JsonFields sf(*so);
      r.include_usage = sf.boolean("include_usage").value_or(false);
      if (sf.error()) f.fail("stream_options.include_usage", sf.error()->message);
    }
  }
  r.user = f.string("user").value_or("");
  if (const json* rf = f.get("response_format"); rf && !f.error()) {
    ConstraintResult c = response_format_constraint(rf, m.grammars);
    if (c.error) return *c.error;
    if (c.constraint && p.constraint && p.trigger_id < 0)
      f.fail("response_format",
             "'response_format' cannot constrain a reply that 'tool_choice' "
             "already makes tool calls");
    if (c.constraint) p.trigger_id = -1;  // with tools on auto, the format wins: no calls
    if (c.constraint) p.constraint = c.constraint;
  }
  if (r.logprobs) p.logprobs = r.top_logprobs;
  if (f.error()) return *f.error();
  return r;  // Engine::submit checks it against the model and the KV pool
}

}  // namespace

ApiResult<ChatRequest> parse_conversation(const json& body) {
  JsonFields f(body);
  const json* msgs = f.get("messages");
  if (!msgs || !msgs->is_array() || msgs->empty())
    return field_error("messages", "'messages' must be a non-empty array of messages");
  ChatRequest req;
  for (size_t i = 0; i < msgs->size(); ++i) {
    auto m = message_of((*msgs)[i], i);
    if (auto* e = std::get_if<ApiError>(&m)) return *e;
    req.messages.push_back(std::move(std::get<ChatMessage>(m)));
  }
  if (const json* tools = f.get("tools")) {
    if (!tools->is_array()) return field_error("tools", "'tools' must be an array");
    for (const json& t : *tools) req.tools.push_back(nlohmann::ordered_json(t));
  }
  req.add_generation_prompt = f.boolean("add_generation_prompt").value_or(true);
  if (const json* kw = f.get("chat_template_kwargs")) {
    if (!kw->is_object())
      return field_error("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    JsonFields k(*kw);
    req.enable_thinking = k.boolean("enable_thinking");
    if (k.error()) return field_error("chat_template_kwargs.enable_thinking", k.error()->message);
  }
  if (f.error()) return *f.error();
  return req;
}

ApiResult<ApiRequest> parse_chat(const json& body, const ServedModel& m, uint64_t seed) {
  auto model = model_of(body, m);
  if (auto* e = std::get_if<ApiError>(&model)) return *e;
  auto conv = parse_conversation(body);
  if (auto* e = std::get_if<ApiError>(&conv)) return *e;
  ApiRequest r;
  r.chat = true;
  r.model = std::get<std::string>(model);
  const ChatRequest& req = std::get<ChatRequest>(conv);
  auto ids = m.chat->encode(*m.tok, req);
  if (!ids.is_ok()) return invalid_request(ids.status().message(), "messages");
  r.engine.prompt = std::move(ids).value();
  JsonFields f(body);
  const json* choice = f.get("tool_choice");
  r.tools = !req.tools.empty() && !(choice && *choice == "none");
  if (auto e = check_tools(req.tools)) return *e;
  const bool parallel = f.boolean("parallel_tool_calls").value_or(true);
  const int32_t open = m.tok->added_token_id(kToolCallOpen);  // -1: none in this vocabulary
  ConstraintResult calls = tool_choice_constraint(choice, req.tools, parallel, open, m.grammars);
  if (calls.error) return *calls.error;
  r.engine.params.constraint = calls.constraint;
  r.engine.params.trigger_id = calls.trigger;
  r.calls_enforced = calls.constraint != nullptr && calls.trigger < 0;
  if (!req.tools.empty() && !r.tools && open >= 0)  // "none": tools in the prompt, no call
    r.engine.params.banned_ids.push_back(open);
  r.logprobs = f.boolean("logprobs").value_or(false);
  r.top_logprobs = f.integer("top_logprobs", 0, 20).value_or(0);
  if (r.top_logprobs > 0 && !r.logprobs)
    f.fail("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  return finish_request(f, std::move(r), m, seed, "messages");
}

ApiResult<ApiRequest> parse_completion(const json& body, const ServedModel& m, uint64_t seed) {
  auto model = model_of(body, m);
  if (auto* e = std::get_if<ApiError>(&model)) return *e;
  JsonFields f(body);
  const json* p = f.get("prompt");
  ApiRequest r;
  r.model = std::get<std::string>(model);
  if (p && p->is_array() && p->size() == 1 && (p->front().is_string() || p->front().is_array()))
    p = &p->front();  // a batch of one
  if (p && p->is_string()) {
    auto ids = m.tok->encode(p->get<std::string>(), true);
    if (!ids.is_ok()) return invalid_request(ids.status().message(), "prompt");
    r.engine.prompt = std::move(ids).value();
  } else if (p && p->is_array() && !p->empty() &&
             std::all_of(p->begin(), p->end(),
                         [](const json& v) { return v.is_number_integer(); })) {
    for (const json& v : *p) {
      const int64_t id = v.get<int64_t>();
      if (id < 0 || id >= m.config.vocab_size)
        return invalid_request(fmt::format("'prompt' token id {} is outside the vocabulary [0, {})",
                                           id, m.config.vocab_size),
                               "prompt");
      r.engine.prompt.push_back(int32_t(id));
    }
  } else if (p && p->is_array() && p->size() > 1) {
    return invalid_request("'prompt' holds several prompts; this server takes one per request",
                           "prompt");
  } else {
    return invalid_request("'prompt' must be a string or an array of token ids", "prompt");
  }
  if (r.engine.prompt.empty()) return invalid_request("'prompt' is empty", "prompt");
  const auto lp = f.integer("logprobs", 0, 20);
  r.logprobs = lp.has_value();
  r.top_logprobs = lp.value_or(0);
  return finish_request(f, std::move(r), m, seed, "prompt");
}

}  // namespace wedlm::server
