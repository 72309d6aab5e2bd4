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
  if (p_.constraint) grammar_ = p_.constraint->start();
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
    return plan_allowed();
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
  return plan_allowed();
}

// AR: the set after the output. WeDLM: the first mask's set, after the output and the filled
// run (the only filled slots under a constraint); the other masks draw freely (fill_constrained
// checks them).
void SequenceDecoder::plan_edits() {
  edits_.reset();
  const bool additive = p_.presence_penalty != 0 || p_.frequency_penalty != 0;
  if (!additive && p_.repetition_penalty == 1 && p_.logit_bias.empty() && p_.banned_ids.empty())
    return;
  auto e = std::make_shared<LogitEdits>();
  e->add = p_.logit_bias;
  e->banned = p_.banned_ids;
  std::vector<int32_t> seen(r_.output.begin(), r_.output.end());  // output + filled window slots
  for (int32_t t : win_)
    if (t != kMaskSlot) seen.push_back(t);
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size();) {
    size_t j = i;
    while (j < seen.size() && seen[j] == seen[i]) ++j;
    if (additive)
      e->add.emplace_back(seen[i],
                          -float(p_.presence_penalty + p_.frequency_penalty * double(j - i)));
    i = j;
  }
  if (p_.repetition_penalty != 1) {
    e->repetition = p_.repetition_penalty;
    seen.insert(seen.end(), tokens_.begin(), tokens_.begin() + prompt_len_);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    e->seen = std::move(seen);
  }
  edits_ = std::move(e);
}

bool SequenceDecoder::plan_allowed() {
  plan_edits();
  row_allowed_.clear();
  row_no_trigger_.clear();
  if (!p_.constraint) return true;
  const constrain::TokenMasks& c = *p_.constraint;
  constrain::State s = grammar_;
  bool after = constrained();  // the grammar follows the filled run from here on
  for (size_t k = 0; k < win_.size() && win_[k] != kMaskSlot; ++k) {
    if (after)
      s = c.advance(s, win_[k]);
    else if (win_[k] == p_.trigger_id)
      after = true;  // committed by this step
  }
  if (!after) {
    plan_trigger_rows();
    return true;
  }
  row_allowed_.push_back(c.allowed(s));
  if (row_allowed_[0]->count > 0) return true;
  finished_ = true;  // nothing can follow (a grammar's dead end): end as a stop
  r_.finish_reason = "stop";
  return false;
}

// Free decoding before the trigger (WeDLM): a mask with a filled slot to its right may not draw
// the trigger.
void SequenceDecoder::plan_trigger_rows() {
  if (p_.mode == DecodeMode::kAR) return;
  size_t end = 0;  // past the last filled slot
  for (size_t k = 0; k < win_.size(); ++k)
    if (win_[k] != kMaskSlot) end = k + 1;
  for (size_t k = 0; k < win_.size(); ++k)
    if (win_[k] == kMaskSlot) row_no_trigger_.push_back(k < end);
  auto e = std::make_shared<LogitEdits>(edits_ ? *edits_ : LogitEdits{});
  e->banned.push_back(p_.trigger_id);
  edits_no_trigger_ = std::move(e);
}

void SequenceDecoder::after_commit(int32_t t) {
  if (constrained())
    grammar_ = p_.constraint->advance(grammar_, t);
  else if (free_with_trigger() && t == p_.trigger_id)
    triggered_ = true;
}

TokenLogprob SequenceDecoder::logprob_of(const Rows& rows, size_t j, int32_t t,
                                         const TokenSet* allowed) const {
  if (p_.logprobs < 0) return {};
  if (!allowed)
    return token_logprob(rows.logits(j), rows.vocab, p_.sampling, m_.mask_id, t, p_.logprobs);
  std::vector<float> row(rows.logits(j), rows.logits(j) + rows.vocab);  // the constrained row
  mask_logits(row.data(), rows.vocab, *allowed);
  TokenLogprob lp = token_logprob(row.data(), rows.vocab, p_.sampling, m_.mask_id, t, p_.logprobs);
  std::erase_if(lp.top, [](const TopLogprob& x) { return x.logprob < kMaskedLogit / 2; });
  return lp;
}

RowDraw SequenceDecoder::draw(size_t j) const {
  return row_draw(p_.sampling, m_.mask_id, Rng::uniform_at(p_.sampling.seed, drawn_ + j));
}

size_t SequenceDecoder::n_logit_rows() const {
  return p_.mode == DecodeMode::kAR ? 1 : size_t(std::count(win_.begin(), win_.end(), kMaskSlot));
}

void SequenceDecoder::row_requests(std::vector<RowRequest>& out) const {
  for (size_t j = 0; j < n_logit_rows(); ++j)
    out.push_back(
        RowRequest{draw(j), p_.logprobs >= 0, j < row_allowed_.size() ? row_allowed_[j] : nullptr,
                   j < row_no_trigger_.size() && row_no_trigger_[j] ? edits_no_trigger_ : edits_});
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
  const TokenSet* allowed = row_allowed_.empty() ? nullptr : row_allowed_[0].get();
  WEDLM_CHECK(!allowed || allowed->allows(t), "a constrained row drew outside its allowed set");
  finished_ = commit(t, logprob_of(rows, 0, t, allowed));
  after_commit(t);
  return 1;
}

// Commit the leading filled run, then select and fill. Logit row j belongs to the j-th mask:
// committing removes only slots before the first mask, so the masks keep their order.
int64_t SequenceDecoder::apply_wedlm(const Rows& rows) {
  const int64_t n = leading_filled();
  StepTrace& tr = r_.steps.emplace_back();
  for (int64_t k = 0; k < n && !finished_; ++k) {
    finished_ = commit(win_[size_t(k)], p_.logprobs >= 0 ? win_lp_[size_t(k)] : TokenLogprob{});
    after_commit(win_[size_t(k)]);
    ++tr.commit;
  }
  win_.erase(win_.begin(), win_.begin() + n);
  if (p_.logprobs >= 0) win_lp_.erase(win_lp_.begin(), win_lp_.begin() + n);
  if (!finished_) constrained() ? fill_constrained(rows, tr) : fill(rows, tr);
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
  if (free_with_trigger()) place_trigger(slots, tok, chosen);
  for (size_t j : chosen) {
    win_[size_t(slots[j])] = tok[j];
    if (p_.logprobs >= 0) win_lp_[size_t(slots[j])] = logprob_of(rows, j, tok[j]);
    tr.fill.emplace_back(slots[j], tok[j]);
  }
}

// A drawn trigger is kept only where every slot before it is filled (this step's fills
// included); the fills right of it are dropped. With nothing left, the first mask is filled with
// its draw (a trigger there is placeable), so the filled run grows towards where the model wants
// to call.
void SequenceDecoder::place_trigger(const std::vector<int64_t>& slots,
                                    const std::vector<int32_t>& tok,
                                    std::vector<size_t>& chosen) const {
  std::vector<bool> filled(win_.size());
  for (size_t k = 0; k < win_.size(); ++k) filled[k] = win_[k] != kMaskSlot;
  for (size_t j : chosen) filled[size_t(slots[j])] = true;
  std::vector<size_t> kept;
  for (size_t j : chosen) {  // ascending slots
    if (tok[j] != p_.trigger_id) {
      kept.push_back(j);
      continue;
    }
    const auto at = filled.begin() + slots[j];
    if (std::all_of(filled.begin(), at, [](bool f) { return f; })) {
      kept.push_back(j);
      break;
    }
    filled[size_t(slots[j])] = false;
  }
  if (kept.empty()) kept.push_back(0);  // the first mask: placeable, and the run grows
  chosen = std::move(kept);
}

// The window is all masks here (the filled run was just committed). Mask j is slot j.
void SequenceDecoder::fill_constrained(const Rows& rows, StepTrace& tr) {
  const constrain::TokenMasks& c = *p_.constraint;
  const size_t n = win_.size();
  WEDLM_CHECK(size_t(std::count(win_.begin(), win_.end(), kMaskSlot)) == n,
              "a constrained window holds only masks before it is filled");
  drawn_ += n;
  constrain::State s = grammar_;
  for (size_t j = 0; j < n; ++j) {
    int32_t t = rows.pick(j).token;
    constrain::State next;
    std::shared_ptr<const TokenSet> allowed = j == 0 ? row_allowed_[0] : nullptr;
    if (j == 0) {
      next = c.advance(s, t);
      WEDLM_CHECK(!next.dead(), "a constrained row drew outside its allowed set");
    } else {
      const double adj = rows.pick(j).entropy + p_.penalty * double(j);
      if (p_.threshold && adj < *p_.threshold) next = c.advance(s, t);
      if (next.dead()) {  // not drawn confidently and validly: only forced text fills it
        t = c.forced(s);
        if (t < 0) break;
        next = c.advance(s, t);
      }
    }
    win_[j] = t;
    if (p_.logprobs >= 0) {
      if (!allowed) allowed = c.allowed(s);
      win_lp_[j] = logprob_of(rows, j, t, allowed.get());
    }
    tr.fill.emplace_back(int64_t(j), t);
    s = std::move(next);
    if (c.is_stop(t)) break;
  }
}

}  // namespace wedlm
