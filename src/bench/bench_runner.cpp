#include "bench/bench_runner.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/core.h>

#include "bench/stats.h"
#include "engine/engine.h"
#include "ops/cpu/cpu_topology.h"
#include "ops/sampling/sampling.h"

namespace wedlm::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::vector<int32_t> random_tokens(int64_t n, const ModelConfig& cfg, Rng& rng) {
  std::vector<int32_t> ids;
  while (int64_t(ids.size()) < n) {
    const int32_t t = int32_t(rng.next_u64() % uint64_t(cfg.vocab_size));
    if (t != cfg.mask_token_id) ids.push_back(t);
  }
  return ids;
}

Request request_of(const BenchInput& in, const BenchCase& c, Rng& rng) {
  const ModelConfig& cfg = in.config();
  Request r;
  const bool pp = c.test == "pp";
  r.prompt = pp ? random_tokens(c.n_tokens, cfg, rng)
                : (in.tg_prompt.empty() ? random_tokens(in.tg_depth, cfg, rng) : in.tg_prompt);
  GenerateParams& p = r.params;
  p.mode = c.mode;
  p.max_tokens = pp ? 1 : c.n_tokens;
  p.ignore_eos = true;  // generation runs to max_tokens
  p.window = c.window;
  p.threshold = c.threshold;
  p.sampling = in.sampling;
  p.sampling.seed = rng.next_u64();
  return r;
}

struct Rep {
  double tokens_per_s = 0, forwards_per_s = 0, tokens_per_forward = 0, ttft_ms = 0;
};

Result<Rep> run_once(Engine& engine, const BenchInput& in, const BenchCase& c, Rng& rng) {
  std::vector<std::shared_ptr<RequestHandle>> hs;
  const int64_t steps0 = engine.stats().steps;
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < c.parallel; ++i) {
    auto h = engine.submit(request_of(in, c, rng));
    if (!h.is_ok()) return h.status();
    hs.push_back(h.value());
  }
  Rep rep;
  int64_t tokens = 0, forwards = 0;
  double first = 1e300, prefill_ms = 0;
  for (auto& h : hs)
    while (auto e = h->next())
      if (e->kind == RequestEvent::Kind::kFinished) {
        const RequestCounters& k = e->counters;
        tokens += k.completion_tokens, forwards += k.forwards;
        first = std::min(first, k.first_token_ms);
        rep.ttft_ms += k.first_token_ms / double(c.parallel);
        prefill_ms = std::max(prefill_ms, k.prefill_ms);
      }
  const double wall_ms = ms(Clock::now() - t0);
  for (int i = 0; i < 1000 && engine.stats().running > 0; ++i)  // the last step's stats land
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // just after its events
  rep.forwards_per_s = double(engine.stats().steps - steps0) * 1000.0 / wall_ms;
  rep.tokens_per_forward = forwards ? double(tokens) / double(forwards) : 0;
  rep.tokens_per_s = c.test == "pp" ? double(c.n_tokens * c.parallel) * 1000.0 / prefill_ms
                                    : double(tokens) * 1000.0 / std::max(wall_ms - first, 1e-3);
  return rep;
}

}  // namespace

std::string label(const BenchCase& c) { return fmt::format("{}{}", c.test, c.n_tokens); }

Result<CaseResult> run_case(const BenchInput& in, const BenchCase& c) {
  const ModelConfig& cfg = in.config();
  const int64_t prompt = c.test == "pp"
                             ? c.n_tokens
                             : (in.tg_prompt.empty() ? in.tg_depth : int64_t(in.tg_prompt.size()));
  const int64_t need = prompt + (c.test == "pp" ? 1 : c.n_tokens) + 2 * c.window + 1;
  if (need > cfg.max_position_embeddings)
    return Status(ErrorKind::kInvalidArgument,
                  fmt::format("{}: prompt {} + tokens + window need {} positions, the model has {}",
                              label(c), prompt, need, cfg.max_position_embeddings));
  BenchCase resolved = c;
  resolved.threads = c.threads > 0 ? c.threads : physical_cpu_cores();
  EngineConfig ec;
  ec.scheduler.max_running = c.parallel;
  ec.scheduler.prefill_chunk = std::max<int64_t>(256, prompt * c.parallel);  // one prefill forward
  const int64_t kv_tokens = c.parallel * (need + 32);
  std::optional<Engine> held;
  if (in.forward == nullptr) {
    held.emplace(std::make_unique<CpuForward>(*in.model, kv_blocks_for(kv_tokens, in.block_size),
                                              in.block_size, resolved.threads),
                 facts_of(cfg), ec);
  } else {
    if (in.forward->kv_tokens() < kv_tokens)
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("{}: needs {} KV slots, the {} pool has {}", label(c), kv_tokens,
                                in.forward->device(), in.forward->kv_tokens()));
    held.emplace(*in.forward, facts_of(cfg), ec);
  }
  Engine& engine = *held;
  Rng rng(in.seed);
  CaseResult r{resolved, {}, 0, 0, 0};
  WEDLM_RETURN_IF_ERROR(run_once(engine, in, c, rng).status());  // warm-up
  for (int i = 0; i < in.reps; ++i) {
    auto rep = run_once(engine, in, c, rng);
    if (!rep.is_ok()) return rep.status();
    r.tokens_per_s.push_back(rep.value().tokens_per_s);
    r.forwards_per_s += rep.value().forwards_per_s / in.reps;
    r.tokens_per_forward += rep.value().tokens_per_forward / in.reps;
    r.ttft_ms += rep.value().ttft_ms / in.reps;
  }
  return r;
}

}  // namespace wedlm::bench
