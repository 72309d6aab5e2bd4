// wedlm: the command-line front end. Parses flags and calls the library; no logic of its own.
//   wedlm generate   -m DIR --prompt-ids 1,2,3 [--mode wedlm|ar] [--window 16] ... [--json]
//   wedlm batch      -m DIR --requests FILE.jsonl [--concurrency 8] [--kv-size 2GiB] ...
//   wedlm serve      -m DIR [--host 127.0.0.1] [--port 8080] [-np 32] [--api-key KEY] ...
//   wedlm bench      -m DIR | --random-weights qwen3-0.6b [-p 512] [-n 128] [--mode wedlm,ar] ...
//   wedlm bench-serve [--base-url URL] [--scenario single|batch|multi-turn|stability] ...
//   wedlm bench-masks [--tokenizer DIR] [--replies 20]
//   wedlm perplexity -m DIR --prompt-ids 1,2,3 [--json]
//   wedlm tokenize   -m DIR (-p TEXT | --decode 1,2,3 | --jsonl) [--json]
//   wedlm info       -m DIR
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "decode/generate.h"
#include "io/weights.h"
#include "model/model.h"
#include "ops/ops.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tools/cli.h"
#include "wedlm_commit.h"

namespace wedlm {
namespace {

using namespace cli;

// The end of a generate run: the JSON object, or the rest of the streamed text and the statistics
// line (stderr). `printed` bytes of the reply were already streamed.
void print_result(const CommonFlags& f, const std::string& mode, const Loaded& m,
                  const std::vector<int32_t>& prompt, const GenerateResult& g_res, size_t printed) {
  std::string reply = text_of(m, g_res.output);  // bytes, cut at a stop string
  if (g_res.text_end) reply.resize(std::min(reply.size(), *g_res.text_end));
  const std::string rest = utf8_lossy(reply.substr(std::min(printed, reply.size())));
  reply = utf8_lossy(reply);
  const double tps =
      g_res.decode_ms > 0 ? 1000.0 * double(g_res.output.size()) / g_res.decode_ms : 0;
  if (f.json) {
    nlohmann::json j = {{"prompt_ids", prompt},
                        {"output_ids", g_res.output},
                        {"text", reply},
                        {"finish_reason", g_res.finish_reason},
                        {"forwards", g_res.forwards},
                        {"tokens_per_forward", g_res.tokens_per_forward()},
                        {"timings",
                         {{"prefill_ms", g_res.prefill_ms},
                          {"decode_ms", g_res.decode_ms},
                          {"tokens_per_s", tps}}}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  if (!m.tok)
    for (int32_t t : g_res.output) std::printf("%d ", t);
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::printf("\n");
  std::fflush(stdout);  // the reply before the statistics line on a shared terminal
  std::fprintf(stderr,
               "[%s: %zu tokens, %lld forwards, %.2f tokens/forward, prefill %.1f ms, "
               "decode %.1f ms, %.1f tokens/s, finish %s]\n",
               mode.c_str(), g_res.output.size(), (long long)g_res.forwards,
               g_res.tokens_per_forward(), g_res.prefill_ms, g_res.decode_ms, tps,
               g_res.finish_reason.c_str());
}

int run_generate(const CommonFlags& f, const GenerateParams& p) {
  auto l = load(f);
  if (!l.is_ok()) return fail(l.status().to_string());
  Loaded& m = l.value();
  auto prompt = prompt_of(f, m.tok, m.tok_status);
  if (!prompt.is_ok()) return fail(prompt.status().to_string());
  const ModelFacts facts = facts_of(m, f.context);  // generate() checks p and the prompt
  size_t hold = 0;  // bytes that may begin a stop string are printed only once it is ruled out
  for (const std::string& s : p.stop_strings) hold = std::max(hold, s.empty() ? 0 : s.size() - 1);
  const int64_t cap =
      std::min(facts.context, int64_t(prompt.value().size()) + p.max_tokens + 2 * p.window + 1);
  auto fw = m.forward(f, KvSize{cap, 0});
  if (!fw.is_ok()) return fail(fw.status().message());
  std::string all;  // reply bytes so far: each commit appends only its own tokens' bytes
  size_t printed = 0;
  auto on_commit = [&](std::span<const int32_t> toks) {
    if (f.json || !m.tok) return;
    all += text_of(m, std::vector<int32_t>(toks.begin(), toks.end()));
    size_t limit = all.size() - std::min(hold, all.size());
    for (const std::string& stop : p.stop_strings)  // a completed stop string is never printed
      if (const size_t at = all.find(stop); !stop.empty() && at != std::string::npos)
        limit = std::min(limit, at);
    const size_t upto = complete_utf8_prefix(all.substr(0, limit));
    if (upto > printed)
      std::fwrite(all.data() + printed, 1, upto - printed, stdout), printed = upto;
    std::fflush(stdout);
  };
  auto r = generate(*fw.value(), facts, prompt.value(), p, on_commit);
  if (!r.is_ok()) return fail(r.status().to_string());
  print_result(f, p.mode == DecodeMode::kAR ? "ar" : "wedlm", m, prompt.value(), r.value(),
               printed);
  return 0;
}

int run_perplexity(const CommonFlags& f) {
  auto l = load(f);
  if (!l.is_ok()) return fail(l.status().to_string());
  auto ids = prompt_of(f, l.value().tok, l.value().tok_status);
  if (!ids.is_ok()) return fail(ids.status().to_string());
  const std::vector<int32_t>& x = ids.value();
  const int64_t V = l.value().ck->config().vocab_size, n = int64_t(x.size());
  if (n < 2) return fail("perplexity needs at least 2 tokens");
  if (n > l.value().ck->config().max_position_embeddings)
    return fail("input longer than the context");
  for (int32_t t : x)
    if (t >= V) return fail(fmt::format("token id {} is outside the vocabulary", t));
  auto fw = l.value().forward(f, KvSize{n, 0});
  if (!fw.is_ok()) return fail(fw.status().message());
  StepOutput out;
  next_token_logits(*fw.value(), x, out);
  const std::vector<float>& logits = out.logits;
  std::vector<double> lp;
  double sum = 0;
  for (int64_t t = 0; t + 1 < n; ++t) {
    const float* row = logits.data() + t * V;
    double mx = -INFINITY, z = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
    for (int64_t i = 0; i < V; ++i) z += std::exp(double(row[i]) - mx);
    lp.push_back(double(row[x[size_t(t + 1)]]) - mx - std::log(z));
    sum += lp.back();
  }
  const double ppl = std::exp(-sum / double(lp.size()));
  if (f.json)
    std::cout << nlohmann::json{{"ids", x}, {"next_logprob", lp}, {"ppl", ppl}}.dump() << "\n";
  else
    std::printf("perplexity %.4f over %zu predictions\n", ppl, lp.size());
  return 0;
}

struct TokenizeFlags {
  std::string model_dir = data_path("models/wedlm-tiny"), text, decode;
  bool json = false, jsonl = false, skip_special = false, timing = false;
};

void add_tokenize(CLI::App* tokz, TokenizeFlags& tf) {
  tokz->add_option("-m,--model", tf.model_dir, "model directory")->capture_default_str();
  tokz->add_option("-p,--prompt", tf.text, "text to encode (special tokens parsed)");
  tokz->add_option("--decode", tf.decode, "comma-separated ids to decode");
  tokz->add_flag("--skip-special", tf.skip_special, "drop special tokens when decoding");
  tokz->add_flag("--json", tf.json, "print one JSON object");
  tokz->add_flag("--jsonl", tf.jsonl, "encode {\"text\": ...} lines from stdin");
  tokz->add_flag("--timing", tf.timing,
                 "with --jsonl: print load and encode milliseconds to stderr");
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// {"text": ...} lines on stdin -> {"ids": [...]} or {"error": ...} lines on stdout, in order.
// Returns the milliseconds spent inside Tokenizer::encode.
double tokenize_jsonl(const Tokenizer& tok) {
  double encode_ms = 0;
  std::string line;
  for (int64_t n = 1; std::getline(std::cin, line); ++n) {
    nlohmann::json out;
    const nlohmann::json in = nlohmann::json::parse(line, nullptr, false);
    if (in.is_discarded() || !in.is_object() || !in.contains("text") || !in["text"].is_string()) {
      out["error"] = fmt::format("line {}: expected a JSON object with a string \"text\"", n);
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      auto ids = tok.encode(in["text"].get<std::string>(), true);
      encode_ms += ms_since(t0);
      if (ids.is_ok())
        out["ids"] = ids.value();
      else
        out["error"] = fmt::format("line {}: {}", n, ids.status().message());
    }
    std::cout << out.dump() << "\n";
  }
  return encode_ms;
}

int run_tokenize(const TokenizeFlags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = Tokenizer::load(f.model_dir + "/tokenizer.json");
  if (!tok.is_ok()) return fail(tok.status().to_string());
  const double load_ms = ms_since(t0);
  if (f.jsonl) {
    const double encode_ms = tokenize_jsonl(tok.value());
    if (f.timing) std::fprintf(stderr, "load %.1f ms, encode %.1f ms\n", load_ms, encode_ms);
    return 0;
  }
  if (f.text.empty() == f.decode.empty()) return fail("give one of -p TEXT, --decode IDS, --jsonl");
  if (!f.decode.empty()) {
    auto ids = parse_ids(f.decode);
    if (!ids.is_ok()) return fail(ids.status().to_string());
    auto text = tok.value().decode(ids.value(), f.skip_special);  // invalid UTF-8 -> U+FFFD, as HF
    if (!text.is_ok()) return fail(text.status().to_string());
    if (f.json)
      std::cout << nlohmann::json{{"text", text.value()}}.dump(
                       -1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    else
      std::cout << text.value() << "\n";
    return 0;
  }
  auto ids = tok.value().encode(f.text, true);
  if (!ids.is_ok()) return fail(ids.status().to_string());
  if (f.json)
    std::cout << nlohmann::json{{"ids", ids.value()}}.dump() << "\n";
  else
    std::cout << fmt::format("{}\n", fmt::join(ids.value(), ","));
  return 0;
}

int run_info(const CommonFlags& f) {
  auto ck = Checkpoint::open(f.model_dir);
  if (!ck.is_ok()) return fail(ck.status().to_string());
  std::printf("%s\n%s\n", f.model_dir.c_str(), ck.value()->config().summary().c_str());
  return 0;
}

}  // namespace
}  // namespace wedlm

int main(int argc, char** argv) {
  using namespace wedlm;
  using namespace wedlm::cli;
  CLI::App app{"wedlm: WeDLM diffusion language model inference"};
  app.set_version_flag("--version", std::string("wedlm ") + WEDLM_COMMIT,
                       "print the build (its commit) and exit");
  app.require_subcommand(1);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last one wins
  CommonFlags cg, cp, ci;
  GenerateParams g;
  CLI::App* gen = app.add_subcommand("generate", "generate a continuation");
  add_model_flags(gen, cg);
  add_prompt_flags(gen, cg);
  add_json_flag(gen, cg);
  add_generate(gen, g);
  CommonFlags cb;
  GenerateParams gb;
  BatchFlags bf;
  CLI::App* batch = app.add_subcommand("batch", "JSONL requests through the serving engine");
  add_model_flags(batch, cb);
  add_json_flag(batch, cb);
  add_generate(batch, gb);
  add_batch(batch, bf);
  CLI::App* ppl = app.add_subcommand("perplexity", "next-token log-probabilities of a text");
  add_model_flags(ppl, cp);
  add_prompt_flags(ppl, cp);
  add_json_flag(ppl, cp);
  TokenizeFlags tf;
  CLI::App* tokz = app.add_subcommand("tokenize", "text -> ids, ids -> text");
  add_tokenize(tokz, tf);
  CommonFlags cs;
  ServeFlags sf;
  CLI::App* serve = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  add_model_flags(serve, cs);
  add_serve(serve, sf);
  CommonFlags cbench;
  BenchFlags bnf;
  CLI::App* bench = app.add_subcommand("bench", "llama-bench-style tables of the engine");
  bench->add_option("-m,--model", cbench.model_dir, "model directory")->capture_default_str();
  add_forward_flags(bench, cbench.forward);
  add_bench(bench, bnf);
  BenchServeFlags bsf;
  CLI::App* bench_serve = app.add_subcommand("bench-serve", "load an OpenAI-compatible server");
  add_bench_serve(bench_serve, bsf);
  BenchMasksFlags bmf;
  CLI::App* bench_masks =
      app.add_subcommand("bench-masks", "time constrained decoding's allowed sets per token");
  add_bench_masks(bench_masks, bmf);
  CLI::App* info = app.add_subcommand("info", "describe a checkpoint");
  info->add_option("-m,--model", ci.model_dir, "model directory")->capture_default_str();
  std::vector<std::string> args(argv + 1, argv + argc);  // llama-server's -np (CLI11 has no
  for (std::string& a : args)
    if (a == "-np") a = "--parallel";  // multi-letter short flags)
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // --help is 0; a bad flag fails as bad input does: 1
  }
  if (gen->parsed()) return run_generate(cg, g);
  if (batch->parsed()) return run_batch(cb, gb, bf);
  if (ppl->parsed()) return run_perplexity(cp);
  if (serve->parsed()) return run_serve(cs, sf);
  if (bench->parsed()) return run_bench(cbench, bnf);
  if (bench_serve->parsed()) return run_bench_serve(bsf);
  if (bench_masks->parsed()) return run_bench_masks(bmf);
  if (tokz->parsed()) return run_tokenize(tf);
  return run_info(ci);
}
