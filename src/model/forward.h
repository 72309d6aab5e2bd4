// The one seam between decoding and compute: a forward with its own paged KV pool runs a Batch
// (batch.h) and answers every logit row with its pick, and the rows that asked with their logits.
// Whatever the device: CpuForward is Model (fp32, Ops) over a KvCache, making the picks from the
// logits on the host; CudaModel (cuda_model.h) makes them on the device, so that only the picks
// (and the rows that asked) cross to the host. make_forward (make_forward.h) chooses and sizes one.
// Block tables in a Batch index the pool of the Forward that runs it.
// Thread safety: one forward() at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "io/model_config.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/layer_trace.h"
#include "model/model.h"

namespace wedlm {

class Forward {
 public:
  virtual ~Forward() = default;
  virtual const ModelConfig& config() const = 0;
  virtual const char* device() const = 0;  // "cpu", "cuda"
  virtual int64_t n_blocks() const = 0;
  virtual int64_t block_size() const = 0;
  int64_t kv_tokens() const { return n_blocks() * block_size(); }
  // Runs `batch`: its K/V into the pool, and `out` set for its logit rows (batch.h).
  virtual void forward(const Batch& batch, StepOutput& out) = 0;
  // Every later forward calls `f` with each layer's output (layer_trace.h); empty: none. A
  // device copies the rows to the host for it, so it is for tracing, not for speed.
  virtual void set_layer_observer(LayerObserver f) = 0;
  // What the forward measured of itself, as markdown for a tool to print (CUDA with
  // --cuda-op-times: the time a forward spends in each operation); empty: nothing.
  virtual std::string profile() const { return {}; }
};

// The logits of rows 0 .. n-2 of `ids` (each row's next-token distribution), in out.logits,
// from one forward of the whole sequence into `f`'s pool (which must hold it) from slot 0.
void next_token_logits(Forward& f, std::span<const int32_t> ids, StepOutput& out);

// Token slots of the default CPU pool: room for four sequences at the full context.
int64_t default_kv_tokens(const ModelConfig& cfg);
// Blocks of `block_size` slots that hold `kv_tokens` slots (at least one).
int64_t kv_blocks_for(int64_t kv_tokens, int64_t block_size);

class CpuForward final : public Forward {
 public:
  // `model` must outlive this object. Forwards run on `threads` CPU threads (0: as many as the
  // constructing thread has, i.e. its -t), whichever thread calls them.
  CpuForward(Model& model, int64_t n_blocks, int64_t block_size, int threads = 0);
  const ModelConfig& config() const override { return model_.config(); }
  const char* device() const override { return "cpu"; }
  int64_t n_blocks() const override { return cache_.n_blocks(); }
  int64_t block_size() const override { return cache_.block_size(); }
  void forward(const Batch& batch, StepOutput& out) override;
  void set_layer_observer(LayerObserver f) override { observer_ = std::move(f); }

 private:
  Model& model_;
  KvCache cache_;
  int threads_;
  LayerObserver observer_;
};

}  // namespace wedlm
