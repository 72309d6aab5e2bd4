// A forward with its own paged KV pool: what the decoders and the engine run batches through,
// whatever the device. CpuForward is Model (fp32, Ops) over a KvCache; CudaModel (cuda_model.h)
// is the device one. Block tables in a Batch index the pool of the Forward that runs it.
// Thread safety: one forward() at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/model_config.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "ops/logit_rows.h"

namespace wedlm {

class Forward {
 public:
  virtual ~Forward() = default;
  virtual const ModelConfig& config() const = 0;
  virtual const char* device() const = 0;  // "cpu", "cuda"
  virtual int64_t n_blocks() const = 0;
  virtual int64_t block_size() const = 0;
  // logits: resized to [batch.logit_rows.size(), vocab], fp32.
  virtual void forward(const Batch& batch, std::vector<float>& logits) = 0;
  // Per logit row, its token drawn under draws[r] and its entropy (ops/logit_rows.h: pick_row)
  // instead of the row; one draw per logit row. This default computes them from forward()'s
  // logits on the host; a device overrides it so that only the picks leave the device.
  virtual void forward_picks(const Batch& batch, std::span<const RowDraw> draws,
                             std::vector<RowPick>& picks);
  // Whether forward_picks() saves time over forward() (a device's picks leave it instead of its
  // rows; the CPU's run over the thread team); callers that can use picks ask this first.
  virtual bool picks_are_cheaper() const { return false; }
};

class CpuForward final : public Forward {
 public:
  // `model` must outlive this object.
  CpuForward(Model& model, int64_t n_blocks, int64_t block_size)
      : model_(model), cache_(model.config(), n_blocks, block_size) {}
  const ModelConfig& config() const override { return model_.config(); }
  const char* device() const override { return "cpu"; }
  int64_t n_blocks() const override { return cache_.n_blocks(); }
  int64_t block_size() const override { return cache_.block_size(); }
  void forward(const Batch& batch, std::vector<float>& logits) override {
    model_.forward(batch, cache_, logits);
  }
  // The default forward_picks() draws the rows and takes their entropies over the thread team:
  // cheaper than the decoder's one row after another on the calling thread.
  bool picks_are_cheaper() const override { return true; }

 private:
  Model& model_;
  KvCache cache_;
};

// Another Forward, borrowed: lets short-lived engines (one per `wedlm bench` case) share one
// device model and its pool. `target` must outlive this object.
class ForwardRef final : public Forward {
 public:
  explicit ForwardRef(Forward& target) : f_(target) {}
  const ModelConfig& config() const override { return f_.config(); }
  const char* device() const override { return f_.device(); }
  int64_t n_blocks() const override { return f_.n_blocks(); }
  int64_t block_size() const override { return f_.block_size(); }
  void forward(const Batch& batch, std::vector<float>& logits) override {
    f_.forward(batch, logits);
  }
  void forward_picks(const Batch& batch, std::span<const RowDraw> draws,
                     std::vector<RowPick>& picks) override {
    f_.forward_picks(batch, draws, picks);
  }
  bool picks_are_cheaper() const override { return f_.picks_are_cheaper(); }

 private:
  Forward& f_;
};

}  // namespace wedlm
