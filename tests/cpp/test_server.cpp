// The server's pieces without HTTP: stop-string hold-back of streamed text, request parsing
// (defaults, WeDLM fields, errors naming fields), the reply format, metrics, key comparison.
// End-to-end HTTP tests are in tests/server (node, the openai SDK).
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "http/message.h"
#include "io/model_config.h"
#include "server/http_util.h"
#include "server/json_fields.h"
#include "server/metrics.h"
#include "server/openai_format.h"
#include "server/parse_request.h"
#include "server/reply_text.h"
#include "server/server.h"
#include "server/tool_call_stream.h"
#include "server/tool_calls.h"
#include "test_util.h"

namespace wedlm::server {
namespace {

using json = nlohmann::ordered_json;

class ServerPieces : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::source_dir() + "/models/wedlm-tiny";
    tok_ = new Tokenizer(Tokenizer::load(dir + "/tokenizer.json").value());
    chat_ = new ChatTemplate(ChatTemplate::load(dir));
    model_.tok = tok_;
    model_.chat = chat_;
    model_.config = load_model_config(dir).value();
    model_.facts = facts_of(model_.config);
    model_.facts.context = 1024;
    model_.facts.stop_ids = {2012};
    model_.name = "tiny";
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete chat_;
  }
  static ApiRequest chat_ok(const json& body) {
    auto r = parse_chat(body, model_, 99);
    if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << e->message;
    return std::get<ApiRequest>(r);
  }
  static ApiError chat_error(const json& body) {
    auto r = parse_chat(body, model_, 99);
    EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body.dump();
    return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
  }
  static inline Tokenizer* tok_ = nullptr;
  static inline ChatTemplate* chat_ = nullptr;
  static inline ServedModel model_;
};

json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

TEST_F(ServerPieces, StreamedTextHoldsBackWhatCouldStartAStopString) {
  const std::vector<int32_t> ids = tok_->encode("1, 2, 3, 4, 5", false).value();
  ReplyText r(*tok_, {", 4"});
  std::string streamed;
  for (int32_t id : ids) {
    streamed += r.push(std::span<const int32_t>(&id, 1));
    EXPECT_EQ(streamed.find(", 4"), std::string::npos);
    EXPECT_TRUE(streamed.empty() || streamed.back() != ',')
        << "a comma may start ', 4': " << streamed;
  }
  EXPECT_EQ(streamed, "1, 2, 3") << "the text up to the stop string, nothing of it";
  streamed += r.finish(size_t(7));  // the engine found ", 4" at byte 7
  EXPECT_EQ(streamed, "1, 2, 3");
  EXPECT_EQ(r.sent(), streamed);
}

TEST_F(ServerPieces, StreamedTextIsReleasedWhenTheStopStringDoesNotFollow) {
  const std::vector<int32_t> ids = tok_->encode("1, 2, 3", false).value();
  ReplyText r(*tok_, {", 9"});
  std::string streamed;
  for (int32_t id : ids) streamed += r.push(std::span<const int32_t>(&id, 1));
  EXPECT_EQ(streamed, "1, 2, 3");
  ReplyText none(*tok_, {});
  std::string all = none.push(ids);
  all += none.finish(std::nullopt);
  EXPECT_EQ(all, "1, 2, 3");
}

TEST_F(ServerPieces, ChatDefaultsFollowTheModelAndTheContext) {
  const ApiRequest r = chat_ok({{"messages", user("Count from 1 to 3.")}});
  const GenerateParams& p = r.engine.params;
  EXPECT_TRUE(r.chat);
  EXPECT_EQ(r.engine.prompt, chat_->encode(*tok_, {{{"user", "Count from 1 to 3."}}}).value());
  EXPECT_EQ(p.max_tokens, 1024 - int64_t(r.engine.prompt.size())) << "up to the context";
  EXPECT_EQ(p.sampling.temperature, model_.sampling.temperature);
  EXPECT_EQ(p.sampling.seed, 99u) << "the server's seed when the request has none";
  EXPECT_EQ(p.mode, DecodeMode::kWeDLM);
  EXPECT_EQ(p.threshold, std::optional<double>(0.4));
  EXPECT_FALSE(p.ignore_eos) << "the model's stop ids end generation";
  EXPECT_EQ(p.logprobs, -1);
  EXPECT_FALSE(r.stream);
}

TEST_F(ServerPieces, ChatFieldsReachTheEngine) {
  const ApiRequest r =
      chat_ok({{"messages",
                json::array({{{"role", "developer"}, {"content", "Be brief."}},
                             {{"role", "user"},
                              {"content", json::array({{{"type", "text"}, {"text", "Count "}},
                                                       {{"type", "text"}, {"text", "to 3."}}})}}})},
               {"max_tokens", 50},
               {"max_completion_tokens", 40},
               {"temperature", 0.5},
               {"top_p", 0.9},
               {"top_k", -1},
               {"seed", -1},
               {"stop", "x"},
               {"logprobs", true},
               {"top_logprobs", 4},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"wedlm_window", 8},
               {"wedlm_threshold", nullptr},
               {"wedlm_penalty", 0.1},
               {"decode_mode", "ar"},
               {"ignore_eos", true},
               {"presence_penalty", 0.5},
               {"frequency_penalty", -0.25},
               {"repetition_penalty", 1.1},
               {"logit_bias", {{"7", -100}, {"3", 2.5}}},
               {"unknown", {1, 2}}});
  const GenerateParams& p = r.engine.params;
  ChatRequest want{{{"system", "Be brief."}, {"user", "Count to 3."}}};
  EXPECT_EQ(r.engine.prompt, chat_->encode(*tok_, want).value())
      << "developer = system, parts joined";
  EXPECT_EQ(p.max_tokens, 40) << "max_completion_tokens wins";
  EXPECT_EQ(p.sampling.temperature, 0.5);
  EXPECT_EQ(p.sampling.top_p, 0.9);
  EXPECT_EQ(p.sampling.top_k, 0);
  EXPECT_EQ(p.sampling.seed, ~uint64_t(0));
  EXPECT_EQ(chat_ok({{"messages", user("hi")}, {"seed", ~uint64_t(0)}}).engine.params.sampling.seed,
            ~uint64_t(0))
      << "seeds are 64-bit patterns, signed or not";
  EXPECT_EQ(p.stop_strings, std::vector<std::string>{"x"});
  EXPECT_EQ(p.logprobs, 4);
  EXPECT_TRUE(r.stream && r.include_usage);
  EXPECT_EQ(p.window, 8);
  EXPECT_FALSE(p.threshold.has_value()) << "null threshold: one slot per step";
  EXPECT_EQ(p.penalty, 0.1);
  EXPECT_EQ(p.mode, DecodeMode::kAR);
  EXPECT_TRUE(p.ignore_eos);
  EXPECT_EQ(p.presence_penalty, 0.5);
  EXPECT_EQ(p.frequency_penalty, -0.25);
  EXPECT_EQ(p.repetition_penalty, 1.1);
  EXPECT_EQ(p.logit_bias, (std::vector<std::pair<int32_t, float>>{{7, -100.f}, {3, 2.5f}}))
      << "in the request's order";
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(chat_ok({{"messages", user("hi")}, {"n", 16}}).n, 16);
}

TEST_F(ServerPieces, BadFieldsAreNamed) {
  const json msgs = user("hi");
  const std::pair<json, std::string> cases[] = {
      {{{"messages", msgs}, {"temperature", "1"}}, "temperature"},
      {{{"messages", msgs}, {"max_tokens", 1.5}}, "max_tokens"},
      {{{"messages", msgs}, {"max_tokens", 5000}}, "max_tokens"},
      {{{"messages", msgs}, {"n", 17}}, "n"},
      {{{"messages", msgs}, {"n", 1.5}}, "n"},
      {{{"messages", msgs}, {"best_of", 2}}, "best_of"},
      {{{"messages", msgs}, {"stop", json::array({1})}}, "stop"},
      {{{"messages", msgs}, {"wedlm_window", 300}}, "wedlm_window"},
      {{{"messages", json::array({{{"role", "user"}, {"content", 5}}})}}, "messages[0].content"},
      {{{"messages", json::array({{{"role", "bot"}, {"content", "x"}}})}}, "messages[0].role"},
      {{{"messages", json::array()}}, "messages"},
  };
  for (const auto& [body, param] : cases) {
    const ApiError e = chat_error(body);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, param) << e.message;
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_NE(e.message.find(param.substr(0, param.find('['))), std::string::npos) << e.message;
  }
  const ApiError too_long = chat_error({{"messages", msgs}, {"max_tokens", 1020}});
  EXPECT_NE(too_long.message.find("maximum context length is 1024 tokens"), std::string::npos);
}

TEST_F(ServerPieces, CompletionPromptsAreTextOrIds) {
  auto text = parse_completion({{"prompt", "<|im_start|>hi"}}, model_, 1);
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(text));
  EXPECT_EQ(std::get<ApiRequest>(text).engine.prompt, tok_->encode("<|im_start|>hi", true).value());
  auto ids = parse_completion({{"prompt", json::array({json::array({5, 6, 7})})}, {"logprobs", 0}},
                              model_, 1);
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(ids));
  EXPECT_EQ(std::get<ApiRequest>(ids).engine.prompt, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(std::get<ApiRequest>(ids).engine.params.logprobs, 0) << "logprobs 0: the token's only";
  for (const json& bad : {json(5), json(""), json::array({"a", "b"}), json::array({1, -1})}) {
    auto r = parse_completion({{"prompt", bad}}, model_, 1);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << bad.dump();
    EXPECT_EQ(std::get<ApiError>(r).param, "prompt");
  }
}

TEST(JsonFieldsTest, NullIsAbsentAndTheFirstErrorIsKept) {
  const json body = {{"a", nullptr}, {"b", "x"}, {"c", 3}};
  JsonFields f(body);
  EXPECT_FALSE(f.integer("a", 0, 10).has_value());
  EXPECT_FALSE(f.error().has_value());
  EXPECT_FALSE(f.integer("b", 0, 10).has_value());
  EXPECT_FALSE(f.number("c", 5, 10).has_value());
  ASSERT_TRUE(f.error().has_value());
  EXPECT_EQ(f.error()->param, "b");
  EXPECT_EQ(f.error()->message, "'b' must be an integer in [0, 10], got \"x\"");
}

TEST(OpenAIFormat, UsageAndErrors) {
  RequestCounters c;
  c.prompt_tokens = 10, c.cached_tokens = 8, c.completion_tokens = 30, c.forwards = 4;
  c.queue_ms = 1, c.prefill_ms = 2, c.first_token_ms = 5, c.total_ms = 33;
  const ojson u = usage_of(c);
  EXPECT_EQ(u["total_tokens"], 40);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 8);
  EXPECT_EQ(u["timings"]["tokens_per_forward"], 7.5);
  EXPECT_EQ(u["timings"]["decode_ms"], 30.0);
  EXPECT_EQ(u["timings"]["tokens_per_s"], 1000.0);
  EXPECT_EQ(finish_reason_of("cancelled"), "abort");
  EXPECT_EQ(finish_reason_of("stop"), "stop");
  const json e = json::parse(error_body(invalid_request("bad", "temperature")));
  EXPECT_EQ(e, json::parse(R"({"error": {"message": "bad", "type": "invalid_request_error",
                                         "param": "temperature", "code": null}})"));
  EXPECT_EQ(from_status(Status(ErrorKind::kOverloaded, "full")).status, 503);
  EXPECT_EQ(sse({{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(MetricsTest, HistogramsAreCumulativeAndCountersLabelled) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 7.0}) h.observe(v);
  EXPECT_EQ(h.render("m"),
            "m_bucket{le=\"1\"} 2\nm_bucket{le=\"2\"} 3\nm_bucket{le=\"5\"} 3\n"
            "m_bucket{le=\"+Inf\"} 4\nm_sum 10\nm_count 4\n");
  Metrics m;
  m.on_http("/v1/completions", 400);
  m.on_http("/v1/completions", 400);
  RequestCounters c;
  c.prompt_tokens = 20, c.cached_tokens = 16, c.completion_tokens = 3, c.forwards = 1;
  m.on_request(c, "stop");
  EngineStats s;
  s.kv_blocks = 10, s.kv_blocks_free = 4, s.running = 2;
  const std::string text = m.render(&s, {310, 12, 3});
  EXPECT_NE(text.find("wedlm:http_connections_open 310\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:http_workers 12\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:http_workers_busy 3\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:http_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("wedlm:request_success_total{finished_reason=\"stop\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("wedlm:prefix_cache_hit_rate 0.8\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:kv_cache_usage_perc 0.6\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:kv_cache_blocks_in_use 6\n"), std::string::npos);
  EXPECT_NE(text.find("wedlm:num_requests_running 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE wedlm:time_to_first_token_seconds histogram\n"), std::string::npos);
  EXPECT_EQ(m.render(nullptr).find("num_requests_running"), std::string::npos) << "no engine yet";
}

TEST(ToolCalls, QwenBlocksBecomeCallsAndAnythingElseStaysText) {
  const ParsedReply two = parse_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"time\", \"arguments\": \"{}\"}\n</tool_call>");
  ASSERT_EQ(two.calls.size(), 2u);
  EXPECT_EQ(two.content, "Let me check.\n");
  EXPECT_EQ(two.calls[0].name, "weather");
  EXPECT_EQ(two.calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(two.calls[1].arguments, "{}") << "a string of arguments is passed as is";
  const ParsedReply unclosed = parse_tool_calls("<tool_call>\n{\"name\": \"f\"}");
  ASSERT_EQ(unclosed.calls.size(), 1u) << "a reply cut at </tool_call> by a stop string";
  EXPECT_EQ(unclosed.calls[0].arguments, "{}");
  for (const char* text : {"no calls here", "<tool_call>\nnot json\n</tool_call>",
                           "<tool_call>{\"arguments\": {}}</tool_call>",
                           "<tool_call>{\"name\": \"f\"}</tool_call> and then more words"}) {
    const ParsedReply r = parse_tool_calls(text);
    EXPECT_TRUE(r.calls.empty()) << text;
    EXPECT_EQ(r.content, text) << "nothing is dropped";
  }
  ReplyHeader h{true, "chatcmpl-1", "m", 0};
  const ojson full = full_reply(h, "\n", "stop", nullptr, RequestCounters{}, two.calls);
  const ojson& msg = full["choices"][0]["message"];
  EXPECT_TRUE(msg["content"].is_null()) << "whitespace only: no content";
  EXPECT_EQ(full["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(msg["tool_calls"][1]["function"]["name"], "time");
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["tool_calls"][0]["id"].get<std::string>().rfind("call_", 0), 0u);
  const ojson c = tool_calls_chunk(h, two.calls);
  EXPECT_EQ(c["choices"][0]["delta"]["tool_calls"][1]["index"], 1);
}

TEST_F(ServerPieces, ToolsOfferedUnlessToolChoiceIsNone) {
  // the bundled ChatML template cannot render tools: the request is refused by name
  const json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(chat_error({{"messages", user("hi")}, {"tools", tools}}).param, "messages");
  EXPECT_FALSE(chat_ok({{"messages", user("hi")}, {"tool_choice", "auto"}}).tools) << "no tools";
}

TEST(ApiKey, ComparesWholeKeys) {
  EXPECT_TRUE(keys_equal("abc", "abc"));
  EXPECT_FALSE(keys_equal("abd", "abc"));
  EXPECT_FALSE(keys_equal("ab", "abc"));
  EXPECT_FALSE(keys_equal("abcd", "abc"));
  EXPECT_FALSE(keys_equal("", "abc"));
}

}  // namespace
}  // namespace wedlm::server

namespace wedlm::server {
namespace {

// JSON carried inside strings is bounded before it is parsed, as the body is: a tool call's
// arguments nested 200,000 deep (a 400 KB body) overflowed the stack in the copy of the parsed
// value. The request is refused naming the field; the same text from the model stays text.
TEST_F(ServerPieces, JsonInsideStringsIsBoundedBeforeItIsParsed) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const json call = {
      {"id", "c1"}, {"type", "function"}, {"function", {{"name", "f"}, {"arguments", deep}}}};
  const json msgs = json::array({{{"role", "user"}, {"content", "hi"}},
                                 {{"role", "assistant"}, {"tool_calls", json::array({call})}}});
  const ApiError e = chat_error({{"messages", msgs}});
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "messages[1].tool_calls");
  EXPECT_NE(e.message.find("more than 100 deep"), std::string::npos) << e.message;
  const std::string nested = "{\"name\": \"f\", \"arguments\": " + deep + "}";
  const ParsedReply r = parse_tool_calls("<tool_call>\n" + nested + "\n</tool_call>");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content.size(), nested.size() + 25) << "the whole reply stays text";
  EXPECT_EQ(json_depth("[\"[[[[\", {\"a\": [1]}]"), 3u) << "brackets in strings do not count";
}

}  // namespace
}  // namespace wedlm::server

namespace wedlm::server {
namespace {

// Request bodies the fuzzers found (tests/data/fuzz_regressions) and their kin: each is a 400
// naming what was wrong, never an exception out of the HTTP thread.
TEST(JsonBody, BodiesTheFuzzerFoundAreRefusedWithAReason) {
  const auto refusal = [](std::string body) {
    http::Request req;
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = std::move(body);
    auto r = json_body(req);
    const ApiError* e = std::get_if<ApiError>(&r);
    return e ? std::to_string(e->status) + " " + e->message : std::string("accepted");
  };
  std::ifstream file(test::source_dir() +
                     "/tests/data/fuzz_regressions/openai_request-number-out-of-range");
  const std::string found((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(refusal(found).rfind("400 the request body is not valid JSON", 0), 0u)
      << refusal(found);
  EXPECT_NE(refusal("{\"a\": 1e999999}").find("number overflow"), std::string::npos);
  EXPECT_NE(refusal("{\"a\": [1, }").find("(byte 11)"), std::string::npos)
      << refusal("{\"a\": [1, }");
  EXPECT_EQ(refusal("{\"a\": 1}"), "accepted");
}

}  // namespace
}  // namespace wedlm::server

namespace wedlm::server {
namespace {

// Enforced calls streamed in any chunking give the calls parse_tool_calls finds in the whole text:
// one first delta (id, name) per call, then argument pieces that join to its arguments.
TEST(ToolCallStreamTest, AnyChunkingGivesTheWholeCalls) {
  const std::string text =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P{a}r\\\"is\", "
      "\"days\": [1, {\"x\": 2}]}}\n</tool_call>\n<tool_call>\n{\"name\": \"t\", \"arguments\": "
      "{}}\n</tool_call>";
  const ParsedReply want = parse_tool_calls(text);
  ASSERT_EQ(want.calls.size(), 2u);
  for (size_t step : {1, 2, 3, 7, 1000}) {
    ToolCallStream s;
    std::vector<std::string> names, args;
    std::vector<std::string> ids;
    for (size_t i = 0; i < text.size(); i += step)
      for (const ToolCallDelta& d : s.push(std::string_view(text).substr(i, step))) {
        if (d.first) {
          ASSERT_EQ(size_t(d.index), names.size());
          names.push_back(d.name), args.emplace_back(), ids.push_back(d.id);
        } else {
          ASSERT_EQ(size_t(d.index) + 1, names.size());
          args.back() += d.arguments;
        }
      }
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(names.size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(names[k], want.calls[k].name);
      EXPECT_EQ(nlohmann::json::parse(args[k]), nlohmann::json::parse(want.calls[k].arguments));
      EXPECT_EQ(ids[k].rfind("call_", 0), 0u);
    }
    EXPECT_NE(ids[0], ids[1]);
  }
  ToolCallStream bad;
  bad.push("<tool_call>\n[");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace wedlm::server
