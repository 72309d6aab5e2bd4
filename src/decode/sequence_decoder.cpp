#include "decode/sequence_decoder.h"

#include <algorithm>

#include "core/check.h"

namespace wedlm {
namespace {

constexpr int32_t kMaskSlot = -1;  // window slot still masked

}  // namespace

void segment_rows(std::span<const int32_t> tokens, int64_t begin, int64_t end, const StepRows* step,
                  StepRows& out) {
  out.ids.assign(tokens.begin() + begin, tokens.begin() + end);
  out.pos.resize(out.ids.size());
  for (size_t i = 0; i < out.pos.size(); ++i) out.pos[i] = begin + int64_t(i);
  out.logit_rows.clear();
  if (!step) return;
  out.ids.insert(out.ids.end(), step->ids.begin(), step->ids.end());
  out.pos.insert(out.pos.end(), step->pos.begin(), step->pos.end());
  for (int32_t r : step->logit_rows) out.logit_rows.push_back(int32_t(end - begin) + r);
}

SequenceDecoder::SequenceDecoder(std::span<const int32_t> prompt, GenerateParams p,
                                 const ModelFacts& m)
    : p_(std::move(p)),
      m_(m),
      prompt_len_(int64_t(prompt.size())),
      tokens_(prompt.begin(), prompt.end()) {
  WEDLM_CHECK(prompt_len_ >= 1 && prompt_len_ < m_.context, "decoder prompt not validated");
}

int64_t SequenceDecoder::n_kv_needed() const {
  const int64_t n = int64_t(tokens_.size());
  return p_.mode == DecodeMode::kAR ? n - 1 : n;
}

int64_t SequenceDecoder::max_step_rows() const {
  return p_.mode == DecodeMode::kAR ? 1 : 2 * p_.window;
}

int64_t SequenceDecoder::peak_slots() const {
  return std::min(m_.context, prompt_len_ + p_.max_tokens + max_step_rows());
}

int64_t SequenceDecoder::leading_filled() const {
  int64_t n = 0;
  while (n < int64_t(win_.size()) && win_[size_t(n)] != kMaskSlot) ++n;
  return n;
}

int64_t SequenceDecoder::next_step_rows() const {
  if (finished_) return 0;
  if (p_.mode == DecodeMode::kAR) return 1;
  const int64_t room = m_.context - int64_t(tokens_.size());
  return std::min(p_.window + leading_filled(), std::max<int64_t>(room, 0));
}

bool SequenceDecoder::plan(StepRows& rows) {
  rows.ids.clear();
  rows.pos.clear();
  rows.logit_rows.clear();
  if (finished_) return false;
  const int64_t L = int64_t(tokens_.size());
  if (p_.mode == DecodeMode::kAR) {
    rows.ids.push_back(tokens_.back());
    rows.pos.push_back(L - 1);
    rows.logit_rows.push_back(0);
    return true;
  }
  const int64_t want = next_step_rows();  // top up: W + n slots within the context
  if (want > int64_t(win_.size())) win_.resize(size_t(want), kMaskSlot);
  if (p_.logprobs >= 0) win_lp_.resize(win_.size());
  if (win_.empty()) {
    finished_ = true;
    r_.finish_reason = "length";
    return false;
  }
  for (size_t k = 0; k < win_.size(); ++k)  // filled slots first, then masks, both ascending
    if (win_[k] != kMaskSlot) rows.ids.push_back(win_[k]), rows.pos.push_back(L + int64_t(k));
  const int32_t n_filled = int32_t(rows.ids.size());
  for (size_t k = 0; k < win_.size(); ++k)
    if (win_[k] == kMaskSlot)
      rows.ids.push_back(int32_t(m_.mask_id)), rows.pos.push_back(L + int64_t(k));
  for (int32_t r = n_filled; r < int32_t(rows.ids.size()); ++r) rows.logit_rows.push_back(r);
  return true;
}

TokenLogprob SequenceDecoder::logprob_of(const Rows& rows, size_t j, int32_t t) const {
  if (p_.logprobs < 0) return {};
  return token_logprob(rows.logits(j), rows.vocab, p_.sampling, m_.mask_id, t, p_.logprobs);
}

RowDraw SequenceDecoder::draw(size_t j) const {
  return row_draw(p_.sampling, m_.mask_id, Rng::uniform_at(p_.sampling.seed, drawn_ + j));
}

size_t SequenceDecoder::n_logit_rows() const {
  return p_.mode == DecodeMode::kAR ? 1 : size_t(std::count(win_.begin(), win_.end(), kMaskSlot));
}

void SequenceDecoder::row_requests(std::vector<RowRequest>& out) const {
  for (size_t j = 0; j < n_logit_rows(); ++j) out.push_back(RowRequest{draw(j), p_.logprobs >= 0});
}

bool SequenceDecoder::commit(int32_t t, TokenLogprob lp) {
  tokens_.push_back(t);
  r_.output.push_back(t);
  if (p_.logprobs >= 0) r_.logprobs.push_back(std::move(lp));
  if (!p_.ignore_eos && std::find(m_.stop_ids.begin(), m_.stop_ids.end(), t) != m_.stop_ids.end()) {
    r_.finish_reason = "stop";
    return true;
  }
  if (int64_t(r_.output.size()) >= p_.max_tokens || int64_t(tokens_.size()) >= m_.context) {
    r_.finish_reason = "length";
    return true;
  }
  return false;
}

int64_t SequenceDecoder::apply(const StepOutput& out, size_t first, int64_t vocab) {
  WEDLM_CHECK(first + n_logit_rows() <= out.picks.size(), "a step's output lacks rows");
  return apply_rows(Rows{out, first, vocab});
}

int64_t SequenceDecoder::apply_rows(const Rows& rows) {
  WEDLM_CHECK(!finished_, "apply() on a finished sequence");
  ++r_.forwards;
  const size_t first_new = r_.output.size();
  if (p_.mode == DecodeMode::kAR)
    apply_ar(rows);
  else
    apply_wedlm(rows);
  // A stop string ends generation, also one completed by the step that hit a stop id or
  // max_tokens (the earlier end wins); the output keeps the token that completes it.
  if (int64_t(r_.output.size()) > int64_t(first_new)) {
    if (const auto m = find_stop(p_.stop_strings, m_.text, r_.output, first_new)) {
      r_.output.resize(m->n_tokens);
      if (p_.logprobs >= 0) r_.logprobs.resize(m->n_tokens);
      tokens_.resize(size_t(prompt_len_) + m->n_tokens);
      r_.text_end = m->text_end;
      r_.finish_reason = "stop";
      finished_ = true;
    }
  }
  return int64_t(r_.output.size()) - int64_t(first_new);
}

int64_t SequenceDecoder::apply_ar(const Rows& rows) {
  const int32_t t = rows.pick(0).token;
  ++drawn_;
  finished_ = commit(t, logprob_of(rows, 0, t));
  return 1;
}

// Commit the leading filled run, then select and fill. Logit row j belongs to the j-th mask:
// committing removes only slots before the first mask, so the masks keep their order.
int64_t SequenceDecoder::apply_wedlm(const Rows& rows) {
  const int64_t n = leading_filled();
  StepTrace& tr = r_.steps.emplace_back();
  for (int64_t k = 0; k < n && !finished_; ++k) {
    finished_ = commit(win_[size_t(k)], p_.logprobs >= 0 ? win_lp_[size_t(k)] : TokenLogprob{});
    ++tr.commit;
  }
  win_.erase(win_.begin(), win_.begin() + n);
  if (p_.logprobs >= 0) win_lp_.erase(win_lp_.begin(), win_lp_.begin() + n);
  if (!finished_) fill(rows, tr);
  return tr.commit;
}

void SequenceDecoder::fill(const Rows& rows, StepTrace& tr) {
  std::vector<int64_t> slots;
  for (size_t k = 0; k < win_.size(); ++k)
    if (win_[k] == kMaskSlot) slots.push_back(int64_t(k));
  if (slots.empty()) return;
  std::vector<double> adj(slots.size());
  std::vector<int32_t> tok(slots.size());
  for (size_t j = 0; j < slots.size(); ++j) {
    tok[j] = rows.pick(j).token;
    adj[j] = rows.pick(j).entropy + p_.penalty * double(slots[j] - slots[0]);
  }
  drawn_ += slots.size();
  std::vector<size_t> chosen;
  if (p_.threshold)
    for (size_t j = 0; j < slots.size(); ++j)
      if (adj[j] < *p_.threshold) chosen.push_back(j);
  if (chosen.empty())
    chosen.push_back(size_t(std::min_element(adj.begin(), adj.end()) - adj.begin()));
  for (size_t j : chosen) {
    win_[size_t(slots[j])] = tok[j];
    if (p_.logprobs >= 0) win_lp_[size_t(slots[j])] = logprob_of(rows, j, tok[j]);
    tr.fill.emplace_back(slots[j], tok[j]);
  }
}

}  // namespace wedlm
