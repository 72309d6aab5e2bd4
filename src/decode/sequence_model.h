// What a decoder needs from a model: run rows of one sequence on top of its cached prefix.
// ModelSequence is the real one (a Model plus a private paged KV cache); tests script fakes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/kv_cache.h"
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
};

class ModelSequence final : public SequenceModel {
 public:
  // Room for `capacity` slots in blocks of `block_size`. `model` must outlive this object.
  ModelSequence(Model& model, int64_t capacity, int64_t block_size);
  int64_t vocab_size() const override { return model_.config().vocab_size; }
  void forward(std::span<const int32_t> ids, std::span<const int64_t> pos, int64_t n_cached,
               std::span<const int32_t> logit_rows, std::vector<float>& logits) override;

 private:
  Model& model_;
  KvCache cache_;
  std::vector<int32_t> table_;
};

}  // namespace wedlm
