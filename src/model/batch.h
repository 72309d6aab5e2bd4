// What crosses between the decoders and a forward, whatever the device: a Batch of rows in, a
// StepOutput back (wedlm-spec.md §3.4, §4.1).
//
// A Batch holds the rows of one or more sequences, each sequence a segment of consecutive rows
// with its own block table. Rows carry explicit RoPE positions; a segment's K/V are stored at its
// logical slots n_kv .. n_kv + n_rows - 1 in row (physical) order *before* attention, and its row
// r attends to its slots [0, n_kv + r]: the causal mask in physical order on top of the K/V the
// cache already holds. Some rows are logit rows; each carries what its caller wants of it (a
// RowRequest): its token drawn under a RowDraw, its entropy, and, when asked, the whole row of
// logits (log-probabilities). A forward answers every logit row with a RowPick.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/token_set.h"
#include "ops/sampling/sampling.h"

namespace wedlm {

// One sequence's part of a Batch.
struct BatchSegment {
  int64_t n_rows = 0;              // consecutive rows, after the previous segment's
  int64_t n_kv = 0;                // K/V the cache holds already: the first row's slot
  std::span<const int32_t> table;  // block table covering slots < n_kv + n_rows
};

// What the caller wants of one logit row. With edits (LogitEdits: penalties, logit_bias) and an
// allowed set (a grammar's, constrain/), the
// tokens outside it are masked before anything is computed of the row: its pick, its entropy and
// the logits it returns are those of the constrained distribution.
struct RowRequest {
  RowDraw draw;                             // how its token is chosen
  bool wants_logits = false;                // the whole row back too (log-probabilities)
  std::shared_ptr<const TokenSet> allowed;  // null: every token
  std::shared_ptr<const LogitEdits> edits;  // penalties, logit_bias (null: none), before `allowed`
  bool edits_logits() const { return allowed || edits; }
  void edit(float* logits, int64_t vocab) const;  // edits, then the mask
};

struct Batch {
  std::vector<int32_t> ids;  // all rows, segment after segment
  std::vector<int64_t> pos;  // RoPE position of each row
  std::vector<BatchSegment> segments;
  std::vector<int32_t> logit_rows;   // batch rows whose logits are wanted, in output order
  std::vector<RowRequest> requests;  // one per logit row

  // Appends a segment of rows; `logit_rows` are indices into `ids` (local to the segment), each
  // with its request (`requests` empty: greedy picks, no logits).
  void add(std::span<const int32_t> ids, std::span<const int64_t> pos, int64_t n_kv,
           std::span<const int32_t> table, std::span<const int32_t> logit_rows,
           std::span<const RowRequest> requests = {});
  void clear();
  int64_t n_logits_wanted() const;  // logit rows whose requests want the whole row
};

// A forward's answer to a Batch: for every logit row its pick; for the rows that asked, their
// logits. Thread safety: plain data.
struct StepOutput {
  std::vector<RowPick> picks;         // one per logit row
  std::vector<float> logits;          // [rows that asked, vocab], in logit row order
  std::vector<int32_t> logits_index;  // per logit row: its row in `logits`, or -1

  // Logit row r's logits ([vocab]); r must have asked for them.
  const float* logits_of(size_t r, int64_t vocab) const;
  // With `logits` holding every logit row ([batch.logit_rows.size(), vocab]): makes the picks on
  // the host (over the thread team) and keeps only the rows that asked, in order. What a forward
  // does that cannot pick where its logits are.
  void pick_from_logits(const Batch& batch, int64_t vocab);
};

}  // namespace wedlm
