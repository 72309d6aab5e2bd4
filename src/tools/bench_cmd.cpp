// wedlm bench: llama-bench-style tables of the engine in process (src/bench), over comma-list
// sweeps of tests and settings, on a checkpoint or on random weights of a real shape.
#include <omp.h>

#include <iostream>
#include <map>
#include <sstream>

#include <fmt/core.h>

#include "bench/bench_report.h"
#include "io/random_weights.h"
#include "tokenizer/chat_template.h"
#include "tools/cli.h"
#include "wedlm_commit.h"

namespace wedlm::cli {
namespace {

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

template <class T, class Parse>
Result<std::vector<T>> list_of(const std::string& flag, const std::string& text, Parse parse) {
  std::vector<T> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      out.push_back(parse(item, used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      return bad(fmt::format("{}: '{}' in '{}' is not a valid value", flag, item, text));
    }
  }
  if (out.empty()) return bad(flag + " is empty");
  return out;
}

Result<std::vector<int64_t>> ints(const std::string& flag, const std::string& text) {
  return list_of<int64_t>(
      flag, text, [](const std::string& s, size_t& used) { return int64_t(std::stoll(s, &used)); });
}

Result<std::vector<std::optional<double>>> thresholds(const std::string& text) {
  return list_of<std::optional<double>>("--threshold", text,
                                        [](const std::string& s, size_t& used) {
                                          if (s == "none")
                                            return used = s.size(), std::optional<double>();
                                          return std::optional<double>(std::stod(s, &used));
                                        });
}

Result<std::vector<DecodeMode>> modes(const std::string& text) {
  return list_of<DecodeMode>("--mode", text, [](const std::string& s, size_t& used) {
    if (s != "wedlm" && s != "ar") throw std::invalid_argument(s);
    used = s.size();
    return s == "ar" ? DecodeMode::kAR : DecodeMode::kWeDLM;
  });
}

// Every combination of the sweeps, pp tests then tg tests for each setting.
Result<std::vector<bench::BenchCase>> cases_of(const BenchFlags& b) {
  auto pp = ints("-p", b.prompt), tg = ints("-n", b.gen), win = ints("--window", b.window),
       np = ints("-np", b.parallel), th = ints("-t", b.threads);
  auto thr = thresholds(b.threshold);
  auto md = modes(b.mode);
  for (const Status& s : {pp.status(), tg.status(), win.status(), np.status(), th.status(),
                          thr.status(), md.status()})
    if (!s.is_ok()) return s;
  std::vector<bench::BenchCase> out;
  for (int64_t t : th.value())
    for (DecodeMode m : md.value())
      for (int64_t w : win.value())
        for (const auto& x : thr.value())
          for (int64_t n : np.value()) {
            if (w < 1 || n < 1 || t < 0) return bad("--window, -np must be >= 1 and -t >= 0");
            const bool ar = m == DecodeMode::kAR;  // AR has no window: one row per setting
            if (ar && (w != win.value().front() || x != thr.value().front())) continue;
            for (const auto& [test, sizes] :
                 {std::pair{"pp", pp.value()}, std::pair{"tg", tg.value()}})
              for (int64_t k : sizes)
                if (k > 0) out.push_back({test, k, m, w, x, n, int(t)});
          }
  if (out.empty()) return bad("nothing to run: -p and -n are all 0");
  return out;
}

struct BenchModel {
  Loaded l;
  std::string name;
};

Result<BenchModel> bench_model(const CommonFlags& f, const BenchFlags& b) {
  BenchModel bm;
  if (b.random_weights.empty()) {
    auto l = load(f);
    if (!l.is_ok()) return l.status();
    bm.l = std::move(l).value();
    bm.name = f.model_dir.substr(f.model_dir.find_last_of('/') + 1);
    return bm;
  }
  auto cfg = random_shape(b.random_weights);
  if (!cfg.is_ok()) return cfg.status();
  auto ck = Checkpoint::random(cfg.value(), b.seed);
  if (!ck.is_ok()) return ck.status();
  bm.l.ck = std::move(ck).value();
  bm.l.ops = make_cpu_ops();
  bm.l.tok_status = bad("random weights have no tokenizer");
  bm.name = b.random_weights + " (random)";
  return bm;
}

int64_t n_params(const Checkpoint& ck) {
  int64_t n = 0;
  for (const TensorSpec& t : expected_tensors(ck.config())) {
    int64_t k = 1;
    for (int64_t d : t.shape) k *= d;
    n += k;
  }
  return n;
}

// "greedy", or the sampling settings that are on.
std::string sampling_of(const SamplingParams& s) {
  if (s.temperature <= 0) return "greedy";
  std::string o = fmt::format("temperature {}", s.temperature);
  if (s.top_k > 0) o += fmt::format(", top-k {}", s.top_k);
  if (s.top_p < 1) o += fmt::format(", top-p {}", s.top_p);
  return o;
}

}  // namespace

void add_bench(CLI::App* app, BenchFlags& b) {
  app->add_option("-p,--n-prompt", b.prompt, "prefill tests: prompt lengths (0 = none)")
      ->capture_default_str();
  app->add_option("-n,--n-gen", b.gen, "generation tests: tokens to generate (0 = none)")
      ->capture_default_str();
  app->add_option("-r,--repetitions", b.reps, "timed repetitions after a warm-up")
      ->capture_default_str();
  app->add_option("--mode", b.mode, "decoders: wedlm,ar")->capture_default_str();
  app->add_option("--window", b.window, "WeDLM windows")->capture_default_str();
  app->add_option("--threshold", b.threshold, "WeDLM thresholds (or none)")->capture_default_str();
  app->add_option("--parallel", b.parallel, "concurrent sequences (-np)")->capture_default_str();
  app->add_option("-t,--threads", b.threads, "threads (0 = one per physical core)")
      ->capture_default_str();
  app->add_option("-o,--output", b.output, "md, csv or json")->capture_default_str();
  app->add_option("--random-weights", b.random_weights,
                  "time a random checkpoint of this shape: qwen3-0.6b, qwen3-1.7b, qwen3-4b, "
                  "qwen3-8b, wedlm-8b");
  app->add_option("--prompt", b.chat_prompt,
                  "generation tests start from this user message "
                  "(through the chat template) instead of 8 random tokens");
  app->add_option("--seed", b.seed, "random weights and prompts")->capture_default_str();
  app->add_option("-d,--depth", b.depth,
                  "generation tests start after this many random prompt "
                  "tokens (the context a step attends over)")
      ->capture_default_str();
  app->add_option("--temperature", b.temperature, "sample at this temperature (0 = greedy)")
      ->capture_default_str();
  app->add_option("--top-k", b.top_k, "sampling: top-k (0 = off)")->capture_default_str();
  app->add_option("--top-p", b.top_p, "sampling: top-p (1 = off)")->capture_default_str();
  app->add_flag("--cuda-op-times", b.op_times,
                "CUDA: time every operation with events (forwards run eagerly, no graphs) and "
                "print the mean time a forward spends in each, by row count, on stderr at the end");
}

int run_bench(CommonFlags f, const BenchFlags& b) {
  const std::map<std::string, bench::ReportFormat> formats = {
      {"md", bench::ReportFormat::kMarkdown},
      {"csv", bench::ReportFormat::kCsv},
      {"json", bench::ReportFormat::kJson}};
  if (!formats.count(b.output)) return fail("-o must be md, csv or json, got " + b.output);
  if (b.reps < 1) return fail("-r must be at least 1");
  if (b.depth < 1) return fail("-d must be at least 1");
  if (b.depth != 8 && !b.chat_prompt.empty()) return fail("-d and --prompt exclude each other");
  auto cases = cases_of(b);
  if (!cases.is_ok()) return fail(cases.status().message());
  auto dev = resolve_device(f.forward);  // before the model: random weights take a while
  if (!dev.is_ok()) return fail(dev.status().message());
  if (b.op_times && dev.value() != "cuda") return fail("--cuda-op-times needs --device cuda");
  f.forward.cuda_op_times = b.op_times;
  auto bm = bench_model(f, b);
  if (!bm.is_ok()) return fail(bm.status().to_string());
  Loaded& l = bm.value().l;
  std::unique_ptr<Forward> device_forward;  // CUDA: one model and pool shared by every case
  if (dev.value() != "cpu") {
    auto fw = l.forward(f);
    if (!fw.is_ok()) return fail(fw.status().message());
    device_forward = std::move(fw).value();
  }
  bench::BenchInput in{device_forward ? nullptr : &l.cpu_model(),
                       device_forward.get(),
                       f.forward.block_size,
                       {},
                       b.depth,
                       b.seed,
                       int(b.reps),
                       {b.temperature, b.top_k, b.top_p, 0}};
  if (!b.chat_prompt.empty()) {
    if (!l.tok) return fail("--prompt needs the model's tokenizer: " + l.tok_status.message());
    ChatRequest req;
    req.messages.push_back({"user", b.chat_prompt});
    auto ids = ChatTemplate::load(f.model_dir).encode(*l.tok, req);
    if (!ids.is_ok()) return fail(ids.status().to_string());
    in.tg_prompt = ids.value();
  }
  const auto& w = l.ck->weights();
  const auto [backend, processor] = device_names(dev.value());
  bench::ReportHeader h{bm.value().name,
                        dtype_name(w.embed->dtype),
                        backend,
                        processor,
                        WEDLM_COMMIT,
                        n_params(*l.ck),
                        int(b.reps),
                        sampling_of(in.sampling),
                        bench::load_average()};
  std::vector<bench::CaseResult> rows;
  for (const bench::BenchCase& c : cases.value()) {
    auto r = bench::run_case(in, c);
    if (!r.is_ok()) return fail(r.status().to_string());
    rows.push_back(r.value());
    std::fprintf(stderr, "bench: %s %s done\n", bench::label(c).c_str(),
                 c.mode == DecodeMode::kAR ? "ar" : "wedlm");
  }
  std::cout << bench::report(h, rows, formats.at(b.output));
  if (device_forward) std::fprintf(stderr, "%s", device_forward->profile().c_str());  // "": none
  return 0;
}

}  // namespace wedlm::cli
