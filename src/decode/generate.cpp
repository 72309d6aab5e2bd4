#include "decode/generate.h"

#include <algorithm>
#include <chrono>

#include <fmt/core.h>

namespace wedlm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int32_t kMaskSlot = -1;  // window slot still masked

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool is_stop(const GenerateParams& p, int32_t t) {
  return std::find(p.stop_ids.begin(), p.stop_ids.end(), t) != p.stop_ids.end();
}

// Applies a stop-string match in output[first_new..]: truncates and marks the result finished.
bool stopped_by_string(const GenerateParams& p, GenerateResult& r, size_t first_new) {
  const auto m = find_stop(p.stop_strings, p.text, r.output, first_new);
  if (!m) return false;
  r.output.resize(m->n_tokens);
  r.text_end = m->text_end;
  r.finish_reason = "stop";
  return true;
}

void prefill(SequenceModel& m, std::span<const int32_t> prompt, std::span<const int32_t> rows,
             std::vector<float>& logits) {
  std::vector<int64_t> pos(prompt.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i);
  m.forward(prompt, pos, 0, rows, logits);
}

// WeDLM decoding state of one sequence (spec §3.1).
class WeDLMDecoder {
 public:
  WeDLMDecoder(SequenceModel& m, const GenerateParams& p, int64_t prompt_len, Rng& rng)
      : m_(m), p_(p), rng_(rng), L_(prompt_len) {
    win_.assign(static_cast<size_t>(std::min(p.window, p.context - prompt_len)), kMaskSlot);
  }

  // One forward; returns false once finished.
  bool step(GenerateResult& r, const CommitFn& on_commit) {
    const int64_t n = leading_filled();
    const int64_t room = p_.context - L_ - int64_t(win_.size());
    const int64_t add = std::min(p_.window + n - int64_t(win_.size()), room);
    win_.insert(win_.end(), static_cast<size_t>(std::max<int64_t>(add, 0)), kMaskSlot);
    if (win_.empty()) {
      r.finish_reason = "length";
      return false;
    }
    run_forward();
    ++r.forwards;
    StepTrace& tr = r.steps.emplace_back();
    const size_t first_new = r.output.size();
    bool done = false;
    for (int64_t k = 0; k < n && !done; ++k) {
      const int32_t t = win_[size_t(k)];
      r.output.push_back(t);
      ++L_;
      ++tr.commit;
      if (is_stop(p_, t)) {
        done = true;
        r.finish_reason = "stop";
      } else if (int64_t(r.output.size()) >= p_.max_tokens || L_ >= p_.context) {
        done = true;
        r.finish_reason = "length";
      }
    }
    if (!done) done = stopped_by_string(p_, r, first_new);
    if (on_commit && r.output.size() > first_new)
      on_commit(std::span<const int32_t>(r.output).subspan(first_new));
    win_.erase(win_.begin(), win_.begin() + n);
    if (done) return false;
    fill(tr);
    return true;
  }

 private:
  int64_t leading_filled() const {
    int64_t n = 0;
    while (n < int64_t(win_.size()) && win_[size_t(n)] != kMaskSlot) ++n;
    return n;
  }

  // Filled slots first, then masks, both ascending; logits for the mask rows only.
  void run_forward() {
    ids_.clear();
    pos_.clear();
    for (size_t k = 0; k < win_.size(); ++k)
      if (win_[k] != kMaskSlot) ids_.push_back(win_[k]), pos_.push_back(L_ + int64_t(k));
    const int32_t n_filled = static_cast<int32_t>(ids_.size());
    for (size_t k = 0; k < win_.size(); ++k)
      if (win_[k] == kMaskSlot)
        ids_.push_back(int32_t(p_.mask_id)), pos_.push_back(L_ + int64_t(k));
    rows_.resize(ids_.size() - size_t(n_filled));
    for (size_t j = 0; j < rows_.size(); ++j) rows_[j] = n_filled + int32_t(j);
    m_.forward(ids_, pos_, L_, rows_, logits_);
  }

  // Select and fill after the commit. Logit row j belongs to the j-th mask: committing removed
  // only slots before the first mask, so the masks keep their order.
  void fill(StepTrace& tr) {
    std::vector<int64_t> slots;
    for (size_t k = 0; k < win_.size(); ++k)
      if (win_[k] == kMaskSlot) slots.push_back(int64_t(k));
    if (slots.empty()) return;
    const int64_t V = m_.vocab_size();
    std::vector<double> adj(slots.size());
    std::vector<int32_t> tok(slots.size());
    for (size_t j = 0; j < slots.size(); ++j) {
      const float* row = logits_.data() + j * size_t(V);
      tok[j] = choose_token(row, V, p_.sampling, rng_, p_.mask_id);
      adj[j] = entropy(row, V) + p_.penalty * double(slots[j] - slots[0]);
    }
    std::vector<size_t> chosen;
    if (p_.threshold)
      for (size_t j = 0; j < slots.size(); ++j)
        if (adj[j] < *p_.threshold) chosen.push_back(j);
    if (chosen.empty())
      chosen.push_back(size_t(std::min_element(adj.begin(), adj.end()) - adj.begin()));
    for (size_t j : chosen) {
      win_[size_t(slots[j])] = tok[j];
      tr.fill.emplace_back(slots[j], tok[j]);
    }
  }

  SequenceModel& m_;
  const GenerateParams& p_;
  Rng& rng_;
  int64_t L_;
  std::vector<int32_t> win_, ids_, rows_;
  std::vector<int64_t> pos_;
  std::vector<float> logits_;
};

void generate_ar(SequenceModel& m, std::span<const int32_t> prompt, const GenerateParams& p,
                 Rng& rng, const CommitFn& on_commit, GenerateResult& r) {
  const int64_t P = int64_t(prompt.size()), V = m.vocab_size();
  std::vector<float> logits;
  const int32_t last = int32_t(P - 1);
  auto t0 = Clock::now();
  prefill(m, prompt, std::span<const int32_t>(&last, 1), logits);
  r.prefill_ms = ms_since(t0);
  r.forwards = 1;
  t0 = Clock::now();
  for (;;) {
    const int32_t t = choose_token(logits.data(), V, p.sampling, rng, p.mask_id);
    r.output.push_back(t);
    if (on_commit) on_commit(std::span<const int32_t>(&r.output.back(), 1));
    if (is_stop(p, t)) { r.finish_reason = "stop"; break; }
    if (stopped_by_string(p, r, r.output.size() - 1)) break;
    if (int64_t(r.output.size()) >= p.max_tokens || P + int64_t(r.output.size()) >= p.context) {
      r.finish_reason = "length";
      break;
    }
    const int64_t L = P + int64_t(r.output.size()) - 1;
    const int32_t row = 0;
    m.forward(std::span<const int32_t>(&r.output.back(), 1), std::span<const int64_t>(&L, 1), L,
              std::span<const int32_t>(&row, 1), logits);
    ++r.forwards;
  }
  r.decode_ms = ms_since(t0);
}

}  // namespace

Status validate(const GenerateParams& p, int64_t prompt_len, int64_t vocab_size) {
  auto bad = [](std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); };
  if (prompt_len < 1) return bad("the prompt is empty");
  if (prompt_len >= p.context)
    return bad(fmt::format("the prompt has {} tokens, which leaves no room in the context of {}",
                           prompt_len, p.context));
  if (p.max_tokens < 1) return bad(fmt::format("max_tokens {} must be at least 1", p.max_tokens));
  if (p.window < 1 || p.window > 256)
    return bad(fmt::format("window {} must be in [1, 256]", p.window));
  if (p.threshold && !(*p.threshold >= 0)) return bad("threshold must be >= 0 or none");
  if (!(p.penalty >= 0)) return bad(fmt::format("penalty {} must be >= 0", p.penalty));
  const SamplingParams& s = p.sampling;
  if (!(s.temperature >= 0) || s.temperature > 100)
    return bad(fmt::format("temperature {} must be in [0, 100]", s.temperature));
  if (s.top_k < 0) return bad(fmt::format("top_k {} must be >= 0", s.top_k));
  if (!(s.top_p > 0 && s.top_p <= 1)) return bad(fmt::format("top_p {} must be in (0, 1]", s.top_p));
  if (p.mode == DecodeMode::kWeDLM && (p.mask_id < 0 || p.mask_id >= vocab_size))
    return bad("WeDLM mode needs a mask token id inside the vocabulary (config mask_token_id)");
  return Status::ok();
}

Result<GenerateResult> generate(SequenceModel& m, std::span<const int32_t> prompt,
                                const GenerateParams& p, const CommitFn& on_commit) {
  WEDLM_RETURN_IF_ERROR(validate(p, int64_t(prompt.size()), m.vocab_size()));
  for (int32_t id : prompt)
    if (id < 0 || id >= m.vocab_size())
      return Status(ErrorKind::kInvalidArgument,
                    fmt::format("prompt token id {} is outside the vocabulary [0, {})", id,
                                m.vocab_size()));
  GenerateResult r;
  Rng rng(p.sampling.seed);
  if (p.mode == DecodeMode::kAR) {
    generate_ar(m, prompt, p, rng, on_commit, r);
    return r;
  }
  std::vector<float> logits;
  auto t0 = Clock::now();
  prefill(m, prompt, {}, logits);  // prefill logits are never used (spec §3.2)
  r.prefill_ms = ms_since(t0);
  t0 = Clock::now();
  WeDLMDecoder dec(m, p, int64_t(prompt.size()), rng);
  while (dec.step(r, on_commit)) {
  }
  r.decode_ms = ms_since(t0);
  return r;
}

}  // namespace wedlm
