#include "decode/generate.h"

#include <chrono>

#include <fmt/core.h>

#include "core/check.h"
#include "decode/sequence_decoder.h"
#include "decode/step_batch.h"

namespace wedlm {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Grows the sequence's block table (the pool is its own: blocks 0, 1, ...) to cover `slots`.
void cover(std::vector<int32_t>& table, int64_t slots, const Forward& f) {
  const int64_t bs = f.block_size();
  WEDLM_CHECK(slots <= f.n_blocks() * bs, "sequence KV capacity exceeded");
  while (int64_t(table.size()) * bs < slots) table.push_back(int32_t(table.size()));
}

}  // namespace

ModelFacts facts_of(const ModelConfig& cfg) {
  ModelFacts m;
  m.vocab_size = cfg.vocab_size;
  m.mask_id = cfg.mask_token_id;
  m.context = cfg.max_position_embeddings;
  m.stop_ids = cfg.eos_token_ids;
  return m;
}

Status validate(const GenerateParams& p, std::span<const int32_t> prompt, const ModelFacts& m) {
  auto bad = [](std::string s) { return Status(ErrorKind::kInvalidArgument, std::move(s)); };
  const int64_t prompt_len = int64_t(prompt.size());
  if (prompt_len < 1) return bad("the prompt is empty");
  if (prompt_len >= m.context)
    return bad(fmt::format("the prompt has {} tokens, which leaves no room in the context of {}",
                           prompt_len, m.context));
  if (p.max_tokens < 1) return bad(fmt::format("max_tokens {} must be at least 1", p.max_tokens));
  if (p.window < 1 || p.window > 256)
    return bad(fmt::format("window {} must be in [1, 256]", p.window));
  if (p.threshold && !(*p.threshold >= 0)) return bad("threshold must be >= 0 or none");
  if (!(p.penalty >= 0)) return bad(fmt::format("penalty {} must be >= 0", p.penalty));
  const SamplingParams& s = p.sampling;
  if (!(s.temperature >= 0) || s.temperature > 100)
    return bad(fmt::format("temperature {} must be in [0, 100]", s.temperature));
  if (s.top_k < 0) return bad(fmt::format("top_k {} must be >= 0", s.top_k));
  if (!(s.top_p > 0 && s.top_p <= 1))
    return bad(fmt::format("top_p {} must be in (0, 1]", s.top_p));
  if (p.logprobs < -1 || p.logprobs > 20)
    return bad(fmt::format("logprobs {} must be -1 (off) or in [0, 20]", p.logprobs));
  for (double pen : {p.presence_penalty, p.frequency_penalty})
    if (!(pen >= -2 && pen <= 2))
      return bad(fmt::format("presence and frequency penalties must be in [-2, 2], got {}", pen));
  if (!(p.repetition_penalty > 0 && p.repetition_penalty <= 100))
    return bad(fmt::format("repetition_penalty {} must be in (0, 100]", p.repetition_penalty));
  for (const auto& [id, bias] : p.logit_bias)
    if (id < 0 || id >= m.vocab_size || !(bias >= -100 && bias <= 100))
      return bad(fmt::format("logit_bias {}: {} needs an id in [0, {}) and a bias in [-100, 100]",
                             id, bias, m.vocab_size));
  for (int32_t id : p.banned_ids)
    if (id < 0 || id >= m.vocab_size)
      return bad(fmt::format("banned id {} is outside the vocabulary [0, {})", id, m.vocab_size));
  if (!p.stop_strings.empty() && !m.text)
    return bad("stop strings need the model's tokenizer (tokenizer.json)");
  if (p.mode == DecodeMode::kWeDLM && (m.mask_id < 0 || m.mask_id >= m.vocab_size))
    return bad("WeDLM mode needs a mask token id inside the vocabulary (config mask_token_id)");
  for (int32_t id : prompt)
    if (id < 0 || id >= m.vocab_size)
      return bad(
          fmt::format("prompt token id {} is outside the vocabulary [0, {})", id, m.vocab_size));
  return Status::ok();
}

Result<GenerateResult> generate(Forward& f, const ModelFacts& m, std::span<const int32_t> prompt,
                                const GenerateParams& p, const CommitFn& on_commit) {
  WEDLM_CHECK(m.vocab_size == f.config().vocab_size, "model facts of another vocabulary");
  WEDLM_RETURN_IF_ERROR(validate(p, prompt, m));
  SequenceDecoder dec(prompt, p, m);
  if (dec.peak_slots() > f.kv_tokens())
    return Status(ErrorKind::kInvalidArgument,
                  fmt::format("the sequence needs {} KV slots but the pool holds {}",
                              dec.peak_slots(), f.kv_tokens()));
  std::vector<int32_t> table;
  StepBatch step;
  // WeDLM prefills on its own (its logits are never used, spec §3.2); AR runs the prompt and its
  // first step as one forward: the last prompt row gives the first token.
  auto t0 = Clock::now();
  int64_t n_kv = 0;
  if (p.mode == DecodeMode::kWeDLM) {
    n_kv = dec.n_kv_needed();
    cover(table, n_kv, f);
    step.add(dec, 0, n_kv, table, false);
    step.run(f);
  }
  double prefill_ms = ms_since(t0);
  t0 = Clock::now();
  while (!dec.finished()) {  // rows not in the cache yet, then the step
    step.clear();
    cover(table, dec.n_kv_needed() + dec.next_step_rows(), f);
    if (!step.add(dec, n_kv, dec.n_kv_needed(), table, true)) break;  // no slot left
    step.run(f);
    const int64_t n = step.apply(0, dec);
    n_kv = dec.n_kv_needed();
    if (p.mode == DecodeMode::kAR && dec.result().forwards == 1)  // AR: the first forward prefills
      prefill_ms = ms_since(t0), t0 = Clock::now();
    if (on_commit && n > 0)
      on_commit(std::span<const int32_t>(dec.result().output).last(size_t(n)));
  }
  GenerateResult r = dec.take_result();
  r.decode_ms = ms_since(t0);
  r.prefill_ms = prefill_ms;
  return r;
}

}  // namespace wedlm
