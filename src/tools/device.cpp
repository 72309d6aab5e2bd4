#include "tools/device.h"

#include <fmt/core.h>

#include "bench/bench_report.h"

#ifdef WEDLM_HAVE_CUDA
#include "model/cuda_model.h"
#include "ops/cuda/cuda_device.h"
#endif

namespace wedlm::cli {
namespace {

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

int64_t blocks_for(int64_t tokens, int64_t block_size) {
  return std::max<int64_t>(1, (tokens + block_size - 1) / block_size);
}

#ifdef WEDLM_HAVE_CUDA
// Device bytes of the uploaded weights (bf16; the tied LM head is the embedding).
int64_t weight_bytes(const Checkpoint& ck) {
  const ModelWeights& w = ck.weights();
  int64_t n = w.embed->numel() + w.final_norm->numel();
  if (w.lm_head != w.embed) n += w.lm_head->numel();
  for (const LayerWeights& l : w.layers)
    for (const TensorInfo* t : {l.input_norm, l.q, l.k, l.v, l.q_bias, l.k_bias, l.v_bias, l.q_norm,
                                l.k_norm, l.o, l.post_norm, l.gate, l.up, l.down})
      if (t != nullptr) n += t->numel();
  return 2 * n;
}

// KV blocks that fit in util x the GPU's memory once the weights and a working reserve (activations,
// cuBLASLt workspace) are counted, and what other processes use already.
Result<int64_t> cuda_pool_blocks(const CommonFlags& f, const Checkpoint& ck) {
  size_t free_b = 0, total_b = 0;
  cuda::memory_info(&free_b, &total_b);
  const int64_t reserve = int64_t(1) << 30, used_by_others = int64_t(total_b - free_b);
  const int64_t budget = int64_t(f.gpu_memory_util * double(total_b)) - used_by_others -
                         weight_bytes(ck) - reserve;
  const int64_t per_block = CudaModel::bytes_per_block(ck.config(), f.block_size);
  if (budget < per_block)
    return bad(fmt::format(
        "--gpu-memory-util {}: no GPU memory left for the KV cache ({:.2f} GiB total, {:.2f} GiB "
        "in use, {:.2f} GiB of weights, 1 GiB reserved); raise it or give --kv-size",
        f.gpu_memory_util, double(total_b) / (1 << 30), double(used_by_others) / (1 << 30),
        double(weight_bytes(ck)) / (1 << 30)));
  return budget / per_block;
}
#endif

}  // namespace

Result<std::string> resolve_device(const CommonFlags& f) {
#ifdef WEDLM_HAVE_CUDA
  const bool has_gpu = cuda::device_count() > 0;
#else
  const bool has_gpu = false;
#endif
  if (!(f.gpu_memory_util > 0 && f.gpu_memory_util <= 1))
    return bad(fmt::format("--gpu-memory-util {} must be in (0, 1]", f.gpu_memory_util));
  if (f.device == "cpu") return std::string("cpu");
  if (f.device == "auto") return std::string(has_gpu ? "cuda" : "cpu");
  if (f.device != "cuda") return bad(fmt::format("--device '{}': expected auto, cpu or cuda", f.device));
#ifndef WEDLM_HAVE_CUDA
  return bad("--device cuda: this build has no CUDA backend (configure with the CUDA toolkit)");
#else
  if (!has_gpu) return bad("--device cuda: no CUDA device found");
  return std::string("cuda");
#endif
}

std::pair<std::string, std::string> device_names(const std::string& device) {
#ifdef WEDLM_HAVE_CUDA
  if (device == "cuda") return {"CUDA", cuda::device_description(0)};
#endif
  (void)device;
  return {"CPU", bench::cpu_name()};
}

int64_t kv_bytes_per_token(const ModelConfig& cfg, const std::string& device) {
  const int64_t elem = device == "cuda" ? 2 : 4;
  return 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * elem;
}

Result<std::unique_ptr<Forward>> make_forward(const CommonFlags& f, const Loaded& m,
                                              const std::string& device, int64_t kv_tokens) {
  if (device == "cpu") {
    const int64_t tokens = kv_tokens > 0 ? kv_tokens : 4 * m.ck->config().max_position_embeddings;
    return std::unique_ptr<Forward>(
        std::make_unique<CpuForward>(m.cpu_model(), blocks_for(tokens, f.block_size),
                                     f.block_size));
  }
#ifdef WEDLM_HAVE_CUDA
  WEDLM_RETURN_IF_ERROR(CudaModel::supports(m.ck->config()));
  int64_t blocks = blocks_for(kv_tokens, f.block_size);
  if (kv_tokens <= 0) {
    auto b = cuda_pool_blocks(f, *m.ck);
    if (!b.is_ok()) return b.status();
    blocks = b.value();
  }
  return std::unique_ptr<Forward>(std::make_unique<CudaModel>(*m.ck, blocks, f.block_size));
#else
  return bad("--device " + device + ": this build has no CUDA backend");
#endif
}

}  // namespace wedlm::cli
