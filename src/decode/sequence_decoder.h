// The decoding state of one sequence, apart from the model: what its next forward must run and
// what to do with the logits that come back. generate() drives one SequenceDecoder over a
// SequenceModel; the serving engine drives many over one batched forward, so both decode alike.
//
// tokens() = prompt + committed output. Before a step's rows run, the K/V of the first
// kv_target() tokens must be in the sequence's cache (the prefill, possibly in chunks, possibly
// from the prefix cache): all tokens in WeDLM mode, all but the last in AR mode. plan() then gives
// the step's rows, which go right after them:
//   WeDLM: the window, topped up to W + n slots within the context (n = its leading filled run):
//          filled slots then masks, ascending, RoPE at L + slot, logits for the mask rows;
//   AR:    the last token at its position, with logits.
// apply() takes those logits: WeDLM commits the leading filled run (a stop id ends generation and
// is kept; max_tokens and the context end it; the rest of the run is dropped), then fills masks
// whose entropy + penalty * (slot - first mask slot) < threshold, else the argmin (all masks get a
// draw, in slot order); AR draws the next token. After apply() the cache holds K/V for exactly
// kv_target() tokens again, so a sequence can be preempted between steps, its cache dropped and
// rebuilt by a prefill of tokens()[0, kv_target()), and go on with the same window and RNG:
// the same output.
// Not thread-safe: one owner at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decode/generate_params.h"
#include "decode/sampler.h"
#include "ops/logit_rows.h"

namespace wedlm {

struct StepRows {
  std::vector<int32_t> ids;
  std::vector<int64_t> pos;
  std::vector<int32_t> logit_rows;  // indices into ids
};

// One sequence's rows of a forward: tokens[begin, end) as prefill rows (no logits) at their own
// positions, then the rows of `step` when given, its logit rows shifted past the prefill rows.
void segment_rows(std::span<const int32_t> tokens, int64_t begin, int64_t end,
                  const StepRows* step, StepRows& out);

class SequenceDecoder {
 public:
  // `p` must have passed validate() for this prompt; it is copied.
  SequenceDecoder(std::span<const int32_t> prompt, GenerateParams p);

  const GenerateParams& params() const { return p_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  int64_t prompt_len() const { return prompt_len_; }
  int64_t kv_target() const;
  bool finished() const { return finished_; }
  // Rows plan() will give (0 once finished or when no slot is left in the context).
  int64_t next_step_rows() const;
  // Most rows a step of this sequence can ever need: 2W (WeDLM) or 1 (AR).
  int64_t max_step_rows() const;
  // The next step's rows. May be called again before apply(): it gives the same rows. When no
  // slot is left, finishes the sequence with "length" and returns false.
  bool plan(StepRows& rows);
  // Applies the logits of plan()'s logit rows ([rows, vocab]); returns how many tokens it
  // committed (they are the last ones of output()).
  int64_t apply(const float* logits, int64_t vocab);
  // Without logprobs a decoder needs of each row only its token, drawn under row_draws()'s
  // RowDraw, and its entropy: then the rows can come as picks (Forward::forward_picks) made where
  // the logits are, the same decoding.
  bool takes_picks() const { return p_.logprobs < 0; }
  // Appends how each of plan()'s logit rows is to be drawn, in row order (call after plan()): the
  // sampling parameters, the mask id, and the next uniforms of the request's counter-based RNG.
  void row_draws(std::vector<RowDraw>& out) const;
  int64_t apply(std::span<const RowPick> picks);

  // What has been decoded so far; the finish reason once finished().
  const GenerateResult& result() const { return r_; }
  GenerateResult take_result() { return std::move(r_); }

 private:
  // A step's logit rows: whole rows, or greedy picks made elsewhere.
  struct Rows {
    const float* logits = nullptr;
    int64_t vocab = 0;
    const RowPick* picks = nullptr;
    const float* row(size_t j) const { return logits + j * size_t(vocab); }
  };
  int64_t leading_filled() const;
  int64_t apply_rows(const Rows& rows);
  int64_t apply_wedlm(const Rows& rows);
  int64_t apply_ar(const Rows& rows);
  bool commit(int32_t t, TokenLogprob lp);  // appends one token; true when it ends generation
  TokenLogprob logprob_of(const Rows& rows, size_t j, int32_t t) const;
  RowDraw draw(size_t j) const;  // logit row j of the step being applied
  int32_t token_of(const Rows& rows, size_t j) const;
  void fill(const Rows& rows, StepTrace& tr);

  GenerateParams p_;
  uint64_t drawn_ = 0;  // uniforms the applied steps used: one per logit row
  int64_t prompt_len_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> win_;  // WeDLM window: a token, or kMaskSlot
  std::vector<TokenLogprob> win_lp_;  // with logprobs on: each filled slot's, beside win_
  GenerateResult r_;
  bool finished_ = false;
};

}  // namespace wedlm
