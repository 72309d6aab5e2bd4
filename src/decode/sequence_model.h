// What a decoder needs from a model: run rows of one sequence on top of its cached prefix.
// ModelSequence is the real one (a Forward with a KV pool of its own); tests script fakes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/forward.h"
#include "model/model.h"

namespace wedlm {

class SequenceModel {
 public:
  virtual ~SequenceModel() = default;
  virtual int64_t vocab_size() const = 0;
  // Rows `ids` at RoPE positions `pos`; their KV goes to slots n_cached.. (row order); logits of
  // `logit_rows` into `logits` [rows, vocab]. Slots must stay below the capacity given at creation.
  virtual void forward(std::span<const int32_t> ids, std::span<const int64_t> pos,
                       int64_t n_cached, std::span<const int32_t> logit_rows,
                       std::vector<float>& logits) = 0;
  // Picks instead of logits (Forward::forward_picks), where that saves work.
  virtual bool picks_are_cheaper() const { return false; }
  virtual void forward_picks(std::span<const int32_t> ids, std::span<const int64_t> pos,
                             int64_t n_cached, std::span<const int32_t> logit_rows,
                             std::span<const RowDraw> draws, std::vector<RowPick>& picks);
};

class ModelSequence final : public SequenceModel {
 public:
  // On the CPU: room for `capacity` slots in blocks of `block_size`. `model` must outlive this.
  ModelSequence(Model& model, int64_t capacity, int64_t block_size);
  // Any device: the whole pool of `forward` is this sequence's.
  explicit ModelSequence(std::unique_ptr<Forward> forward);
  int64_t vocab_size() const override { return forward_->config().vocab_size; }
  void forward(std::span<const int32_t> ids, std::span<const int64_t> pos, int64_t n_cached,
               std::span<const int32_t> logit_rows, std::vector<float>& logits) override;
  bool picks_are_cheaper() const override { return forward_->picks_are_cheaper(); }
  void forward_picks(std::span<const int32_t> ids, std::span<const int64_t> pos,
                     int64_t n_cached, std::span<const int32_t> logit_rows,
                     std::span<const RowDraw> draws, std::vector<RowPick>& picks) override;

 private:
  void batch_of(std::span<const int32_t> ids, std::span<const int64_t> pos, int64_t n_cached,
                std::span<const int32_t> logit_rows);
  std::unique_ptr<Forward> forward_;
  std::vector<int32_t> table_;
  Batch batch_;
};

}  // namespace wedlm
