#include "tools/cli.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "ops/cpu/cpu_topology.h"
#include "tokenizer/chat_template.h"

namespace wedlm::cli {

std::string data_path(const std::string& rel) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = exe.parent_path().parent_path() / "share/wedlm" / rel;
    if (std::filesystem::exists(installed, ec)) return installed.string();
  }
  return std::string(WEDLM_SOURCE_DIR) + "/" + rel;
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "wedlm: %s\n", msg.c_str());
  return 1;
}

Result<std::vector<int32_t>> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v < 0 || v > INT32_MAX)
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("--prompt-ids: '{}' is not a token id", item));
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return Status(ErrorKind::kInvalidArgument, "--prompt-ids is empty");
  return ids;
}

// --prompt-ids, or text from -p / -f: raw (special tokens parsed, as HF `encode`) or, with --chat,
// a user message (after an optional --system one) through the model's chat template.
Result<std::vector<int32_t>> prompt_of(const CommonFlags& f, const std::optional<Tokenizer>& tok,
                                       const Status& tok_status) {
  const int given = !f.prompt_ids.empty() + !f.prompt.empty() + !f.prompt_file.empty();
  if (given != 1) return Status(ErrorKind::kInvalidArgument, "give one of -p, -f, --prompt-ids");
  if (!f.prompt_ids.empty()) {
    if (f.chat) return Status(ErrorKind::kInvalidArgument, "--chat needs a text prompt (-p or -f)");
    return parse_ids(f.prompt_ids);
  }
  if (!tok)
    return Status(tok_status.kind(),
                  "text prompts need the model's tokenizer: " + tok_status.message());
  std::string text = f.prompt;
  if (!f.prompt_file.empty()) {
    std::ifstream in(f.prompt_file, std::ios::binary);
    if (!in) return Status(ErrorKind::kNotFound, f.prompt_file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  Result<std::vector<int32_t>> ids = std::vector<int32_t>{};
  if (f.chat) {
    const ChatTemplate tmpl = ChatTemplate::load(f.model_dir);
    if (!tmpl.note().empty()) std::fprintf(stderr, "wedlm: %s\n", tmpl.note().c_str());
    ChatRequest req;
    if (!f.system.empty()) req.messages.push_back({"system", f.system});
    req.messages.push_back({"user", text});
    ids = tmpl.encode(*tok, req);
  } else {
    ids = tok->encode(text, true);
  }
  if (ids.is_ok() && ids.value().empty())
    return Status(ErrorKind::kInvalidArgument, "the prompt is empty");
  return ids;
}

void add_model_flags(CLI::App* app, CommonFlags& f) {
  app->add_option("-m,--model", f.model_dir, "Hugging Face model directory")->capture_default_str();
  app->add_option("-t,--threads", f.threads, "CPU threads (0 = one per physical core)");
  app->add_option("-c,--context", f.context, "context length (0 = max_position_embeddings)");
  add_forward_flags(app, f.forward);
}

void add_prompt_flags(CLI::App* app, CommonFlags& f) {
  app->add_option("--prompt-ids", f.prompt_ids, "prompt as comma-separated token ids");
  app->add_option("-p,--prompt", f.prompt, "prompt text (special tokens in it are parsed)");
  app->add_option("-f,--file", f.prompt_file, "read the prompt text from a file");
  app->add_flag("--chat", f.chat,
                "send the text as a user message through the model's chat template");
  app->add_option("--system", f.system, "system message (with --chat)");
}

void add_json_flag(CLI::App* app, CommonFlags& f) {
  app->add_flag("--json", f.json, "print one JSON object");
}

void add_forward_flags(CLI::App* app, ForwardSpec& s) {
  app->add_option("--device", s.device, "auto (CUDA when a GPU is present), cpu or cuda")
      ->capture_default_str();
  app->add_option("--kv-block", s.block_size, "KV cache block size in tokens")
      ->capture_default_str();
  app->add_option("--gpu-memory-util", s.gpu_memory_util,
                  "CUDA: share of the GPU's memory for weights, activations and the KV cache")
      ->capture_default_str();
  app->add_flag("--cuda-graphs", s.cuda_graphs,
                "CUDA: capture each step shape once as a CUDA graph and replay it (experimental)");
  app->add_flag("--cuda-tiled-attention", s.cuda_tiled_attention,
                "CUDA: tensor-core attention for segments of 64+ rows (experimental)");
}

Result<Loaded> load(const CommonFlags& f) {
  // -t, else one thread per physical core (hyper-threads share a core's FMA units)
  omp_set_num_threads(f.threads > 0 ? f.threads : physical_cpu_cores());
  if (auto device = resolve_device(f.forward); !device.is_ok()) return device.status();
  Loaded l;
  auto ck = Checkpoint::open(f.model_dir);
  if (!ck.is_ok()) return ck.status();
  l.ck = std::move(ck).value();
  l.ops = make_cpu_ops();
  auto d = Tokenizer::load(f.model_dir + "/tokenizer.json");
  if (d.is_ok())
    l.tok = std::move(d).value();
  else
    l.tok_status = d.status();
  return l;
}

Model& Loaded::cpu_model() const {
  if (!cpu_model_) cpu_model_ = std::make_unique<Model>(*ck, *ops);
  return *cpu_model_;
}

Result<std::unique_ptr<Forward>> Loaded::forward(const CommonFlags& f,
                                                 std::optional<KvSize> kv) const {
  ForwardSpec spec = f.forward;
  if (kv) spec.kv = *kv;
  return make_forward(spec, *ck, [this]() -> Model& { return cpu_model(); });
}

std::string text_of(const Loaded& l, const std::vector<int32_t>& ids) {
  if (!l.tok) return "";
  auto b = l.tok->decode_bytes(ids, true);
  return b.is_ok() ? b.value() : "";
}

Result<DecodeMode> decode_mode_of(const std::string& text, const std::string& flag) {
  if (text == "wedlm") return DecodeMode::kWeDLM;
  if (text == "ar") return DecodeMode::kAR;
  return Status(ErrorKind::kInvalidArgument, flag + " must be wedlm or ar, got " + text);
}

ModelFacts facts_of(const Loaded& m, int64_t ctx) {
  const ModelConfig& cfg = m.ck->config();
  ModelFacts facts = wedlm::facts_of(cfg);
  if (ctx > 0) facts.context = std::min(ctx, cfg.max_position_embeddings);
  for (const char* name : {"<|im_end|>", "<|endoftext|>"})  // chat and document ends always stop
    if (const int32_t id = m.tok ? m.tok->added_token_id(name) : -1;
        id >= 0 &&
        std::find(facts.stop_ids.begin(), facts.stop_ids.end(), id) == facts.stop_ids.end())
      facts.stop_ids.push_back(id);
  if (m.tok) {
    const Loaded* lp = &m;
    facts.text = [lp](std::span<const int32_t> ids) {
      return text_of(*lp, std::vector<int32_t>(ids.begin(), ids.end()));
    };
  }
  return facts;
}

void add_generate(CLI::App* app, GenerateParams& p) {
  app->add_option("-n,--max-tokens", p.max_tokens, "maximum generated tokens")
      ->capture_default_str();
  app->add_option_function<std::string>(
         "--mode",
         [&p](const std::string& s) {
           auto mode = decode_mode_of(s, "--mode");
           if (!mode.is_ok()) throw CLI::ValidationError(mode.status().message());
           p.mode = mode.value();
         },
         "wedlm or ar")
      ->default_str(p.mode == DecodeMode::kAR ? "ar" : "wedlm");
  app->add_option("--window", p.window, "WeDLM window size")->capture_default_str();
  app->add_option_function<std::string>(
         "--threshold",
         [&p](const std::string& s) {
           if (s == "none") return p.threshold.reset();
           try {
             p.threshold = std::stod(s);
           } catch (...) {
             throw CLI::ValidationError("--threshold must be a number or none, got " + s);
           }
         },
         "entropy threshold, or none")
      ->default_str(p.threshold ? fmt::format("{}", *p.threshold) : "none");
  app->add_option("--penalty", p.penalty, "distance penalty")->capture_default_str();
  app->add_option("--temperature", p.sampling.temperature, "0 = greedy")->capture_default_str();
  app->add_option("--top-k", p.sampling.top_k, "0 = off")->capture_default_str();
  app->add_option("--top-p", p.sampling.top_p, "1 = off")->capture_default_str();
  app->add_option("--seed", p.sampling.seed, "sampling seed")->capture_default_str();
  app->add_option("--stop", p.stop_strings, "stop string, matched on text (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_engine(CLI::App* app, EngineFlags& e, const std::string& running_name) {
  SchedulerConfig& s = e.config.scheduler;
  app->add_option("--kv-size", e.kv_size,
                  "KV pool: token slots (65536) or bytes (2GiB, 512MiB); default 4 x context");
  app->add_option(running_name, s.max_running, "sequences decoded together (one forward)")
      ->capture_default_str();
  app->add_option("--max-waiting", s.max_waiting, "queue limit (then: overloaded)")
      ->capture_default_str();
  app->add_option("--prefill-chunk", s.prefill_chunk, "prefill rows per step")
      ->capture_default_str();
}

Status check_engine_flags(const EngineFlags& e, ForwardSpec& spec) {
  const SchedulerConfig& s = e.config.scheduler;
  if (s.max_running < 1 || s.max_waiting < 1 || s.prefill_chunk < 1)
    return Status(ErrorKind::kInvalidArgument,
                  "--max-running (-np), --max-waiting and --prefill-chunk must be at least 1");
  if (e.kv_size.empty()) return Status::ok();
  auto kv = parse_kv_size(e.kv_size);
  if (!kv.is_ok())
    return Status(ErrorKind::kInvalidArgument, "--kv-size: " + kv.status().message());
  spec.kv = kv.value();
  return Status::ok();
}

}  // namespace wedlm::cli
