// The decoding state of one sequence, apart from the model: what its next forward must run and
// what to do with the picks that come back. generate() drives one SequenceDecoder, the serving
// engine many, both through StepBatch (step_batch.h): the same step path, so both decode alike.
//
// tokens() = prompt + committed output. Before a step's rows run, the K/V of the first
// n_kv_needed() tokens must be in the sequence's cache (the prefill, possibly in chunks, possibly
// from the prefix cache): all tokens in WeDLM mode, all but the last in AR mode. plan() then gives
// the step's rows, which go right after them:
//   WeDLM: the window, topped up to W + n slots within the context (n = its leading filled run):
//          filled slots then masks, ascending, RoPE at L + slot, logits for the mask rows;
//   AR:    the last token at its position, with logits.
// apply() takes their picks (token and entropy; the logits too with logprobs): WeDLM commits the
// leading filled run (a stop id ends generation and is kept; max_tokens and the context end it; the
// rest of the run is dropped), then fills masks whose entropy + penalty * (slot - first mask slot)
// < threshold, else the argmin (all masks get a draw, in slot order); AR draws the next token.
// With a constraint (GenerateParams::constraint), AR draws from the allowed set of the output so
// far. WeDLM fills left to right only: the first mask is drawn from the allowed set after the
// output and the filled run before it (so every step fills at least it); each following mask is
// filled, while the run is unbroken, with its own draw when that draw is confident by the usual
// rule and keeps the text valid, or else with the longest token of the text the grammar forces
// there (a key, a quote, a colon: TokenMasks::forced), if any.
// With a trigger token (GenerateParams::trigger_id) decoding is free until the trigger is
// committed. WeDLM places a drawn trigger only where every slot before it is filled and none after
// it (rows with a filled slot to their right never draw it; fills right of a placed trigger are
// dropped), so the next step commits it and the constrained rule takes over from an empty window.
// Filled slots thus stay one leading run, committed whole by the next step: no invalid prefix is
// ever committed and no filled token is revised.
// After apply() the cache holds K/V for exactly n_kv_needed() tokens again, so a sequence can be
// preempted between steps, its cache dropped and rebuilt by a prefill of tokens()[0,
// n_kv_needed()), and go on with the same window and RNG: the same output. Not thread-safe: one
// owner at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decode/generate_params.h"
#include "model/batch.h"
#include "ops/sampling/sampling.h"

namespace wedlm {

struct StepRows {
  std::vector<int32_t> ids;
  std::vector<int64_t> pos;
  std::vector<int32_t> logit_rows;  // indices into ids
};

// One sequence's rows of a forward: tokens[begin, end) as prefill rows (no logits) at their own
// positions, then the rows of `step` when given, its logit rows shifted past the prefill rows.
void segment_rows(std::span<const int32_t> tokens, int64_t begin, int64_t end, const StepRows* step,
                  StepRows& out);

class SequenceDecoder {
 public:
  // `p` must have passed validate() for this prompt and `m`; it is copied, `m` is borrowed and
  // must outlive the decoder.
  SequenceDecoder(std::span<const int32_t> prompt, GenerateParams p, const ModelFacts& m);
  SequenceDecoder(std::span<const int32_t> prompt, GenerateParams p, ModelFacts&& m) = delete;

  const GenerateParams& params() const { return p_; }
  int64_t context() const { return m_.context; }
  std::span<const int32_t> tokens() const { return tokens_; }
  int64_t prompt_len() const { return prompt_len_; }
  // Leading tokens() whose K/V must be in the cache before plan()'s rows run.
  int64_t n_kv_needed() const;
  bool finished() const { return finished_; }
  // Rows plan() will give (0 once finished or when no slot is left in the context).
  int64_t next_step_rows() const;
  // Most rows a step of this sequence can ever need: 2W (WeDLM) or 1 (AR).
  int64_t max_step_rows() const;
  // Slots the sequence needs at its peak, which its KV pool must hold: its whole context or its
  // prompt + max_tokens + the window headroom, whichever is smaller.
  int64_t peak_slots() const;
  // The next step's rows. May be called again before apply(): it gives the same rows. When no
  // slot is left, finishes the sequence with "length" and returns false.
  bool plan(StepRows& rows);
  // Appends what plan()'s logit rows ask of the forward, in row order (call after plan()): each
  // row's draw (the sampling parameters, the mask id, the next uniform of the request's
  // counter-based RNG) and, with logprobs on, its logits.
  void row_requests(std::vector<RowRequest>& out) const;
  // Applies the answers to plan()'s logit rows: rows first.. of `out`; returns how many tokens
  // it committed (they are the last ones of output()).
  int64_t apply(const StepOutput& out, size_t first, int64_t vocab);

  // What has been decoded so far; the finish reason once finished().
  const GenerateResult& result() const { return r_; }
  GenerateResult take_result() { return std::move(r_); }

 private:
  // This sequence's rows of a step's output.
  struct Rows {
    const StepOutput& out;
    size_t first;
    int64_t vocab;
    const RowPick& pick(size_t j) const { return out.picks[first + j]; }
    const float* logits(size_t j) const { return out.logits_of(first + j, vocab); }
  };
  int64_t leading_filled() const;
  size_t n_logit_rows() const;  // of the planned step
  int64_t apply_rows(const Rows& rows);
  int64_t apply_wedlm(const Rows& rows);
  int64_t apply_ar(const Rows& rows);
  bool commit(int32_t t, TokenLogprob lp);  // appends one token; true when it ends generation
  TokenLogprob logprob_of(const Rows& rows, size_t j, int32_t t,
                          const TokenSet* allowed = nullptr) const;
  RowDraw draw(size_t j) const;  // logit row j of the step being applied
  void fill(const Rows& rows, StepTrace& tr);
  void fill_constrained(const Rows& rows, StepTrace& tr);
  bool plan_allowed();  // the planned step's allowed sets; false when the grammar allows nothing
  void plan_edits();    // the planned step's penalties and logit_bias (null: none)
  bool constrained() const { return p_.constraint && (p_.trigger_id < 0 || triggered_); }
  bool free_with_trigger() const { return p_.constraint && p_.trigger_id >= 0 && !triggered_; }
  void after_commit(int32_t t);  // the grammar's state, or the trigger seen
  void plan_trigger_rows();
  void place_trigger(const std::vector<int64_t>& slots, const std::vector<int32_t>& tok,
                     std::vector<size_t>& chosen) const;

  GenerateParams p_;
  const ModelFacts& m_;
  uint64_t drawn_ = 0;  // uniforms the applied steps used: one per logit row
  int64_t prompt_len_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> win_;          // WeDLM window: a token, or kMaskSlot
  std::vector<TokenLogprob> win_lp_;  // with logprobs on: each filled slot's, beside win_
  GenerateResult r_;
  bool finished_ = false;
  constrain::State grammar_;  // with a constraint: its state after the output so far
  std::vector<std::shared_ptr<const TokenSet>> row_allowed_;  // per planned logit row (or null)
  std::shared_ptr<const LogitEdits> edits_;                   // every planned logit row's
  std::shared_ptr<const LogitEdits> edits_no_trigger_;        // rows that may not draw the trigger
  std::vector<bool> row_no_trigger_;                          // per planned logit row
  bool triggered_ = false;                                    // the trigger is committed
};

}  // namespace wedlm
