#include "model/make_forward.h"

#include <charconv>
#include <cmath>
#include <fstream>

#include <unistd.h>

#include <fmt/core.h>

#ifdef WEDLM_HAVE_CUDA
#include "model/cuda_model.h"
#include "ops/cuda/cuda_device.h"
#endif

namespace wedlm {
namespace {

Status bad(std::string m) { return Status(ErrorKind::kInvalidArgument, std::move(m)); }

std::string cpu_name() {  // /proc/cpuinfo's model name
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// Bytes of memory the system can give now (MemAvailable), else its physical memory; 0 unknown.
double available_memory() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    double kib = 0;
    in >> kib;
    if (key == "MemAvailable:") return kib * 1024;
    in.ignore(64, '\n');
  }
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? double(pages) * double(size) : 0;
}

// The CPU pool must fit in memory: it is allocated at once, and a size from a flag or a config
// (4 x max_position_embeddings) could otherwise end the process with bad_alloc.
Status check_cpu_pool(int64_t blocks, const ForwardSpec& s, const ModelConfig& cfg) {
  const double bytes = double(blocks * s.block_size) * double(kv_bytes_per_token(cfg, "cpu"));
  const double have = available_memory();
  if (have <= 0 || bytes <= have) return Status::ok();
  return bad(fmt::format(
      "the KV pool of {} token slots takes {:.2f} GiB, more than the {:.2f} GiB of memory "
      "available; give a smaller --kv-size (or -c)",
      blocks * s.block_size, bytes / double(1 << 30), have / double(1 << 30)));
}

// The pool's token slots as given; 0 when the spec leaves it to the device.
int64_t given_tokens(const ForwardSpec& s, const ModelConfig& cfg, const std::string& device) {
  if (s.kv.tokens > 0) return s.kv.tokens;
  if (s.kv.bytes > 0) return int64_t(s.kv.bytes / double(kv_bytes_per_token(cfg, device)));
  return 0;
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

// KV blocks that fit in util x the GPU's memory once the weights and a working reserve
// (activations, cuBLASLt workspace) are counted, and what other processes use already.
Result<int64_t> cuda_pool_blocks(const ForwardSpec& s, const Checkpoint& ck) {
  size_t free_b = 0, total_b = 0;
  cuda::memory_info(&free_b, &total_b);
  const int64_t reserve = int64_t(1) << 30, used_by_others = int64_t(total_b - free_b);
  const int64_t budget =
      int64_t(s.gpu_memory_util * double(total_b)) - used_by_others - weight_bytes(ck) - reserve;
  const int64_t per_block = kv_bytes_per_token(ck.config(), "cuda") * s.block_size;
  if (budget < per_block)
    return bad(fmt::format(
        "--gpu-memory-util {}: no GPU memory left for the KV cache ({:.2f} GiB total, {:.2f} GiB "
        "in use, {:.2f} GiB of weights, 1 GiB reserved); raise it or give --kv-size",
        s.gpu_memory_util, double(total_b) / (1 << 30), double(used_by_others) / (1 << 30),
        double(weight_bytes(ck)) / (1 << 30)));
  return budget / per_block;
}

Result<std::unique_ptr<Forward>> make_cuda(const ForwardSpec& s, const Checkpoint& ck) {
  WEDLM_RETURN_IF_ERROR(CudaModel::supports(ck.config()));
  const int64_t tokens = given_tokens(s, ck.config(), "cuda");
  int64_t blocks = kv_blocks_for(tokens, s.block_size);
  if (tokens <= 0) {
    auto b = cuda_pool_blocks(s, ck);
    if (!b.is_ok()) return b.status();
    blocks = b.value();
  }
  const CudaOptions opt{s.cuda_graphs, s.cuda_tiled_attention, s.cuda_op_times};
  return std::unique_ptr<Forward>(std::make_unique<CudaModel>(ck, blocks, s.block_size, opt));
}
#endif

}  // namespace

Result<std::string> resolve_device(const ForwardSpec& s) {
#ifdef WEDLM_HAVE_CUDA
  const bool has_gpu = cuda::device_count() > 0;
#else
  const bool has_gpu = false;
#endif
  if (!(s.gpu_memory_util > 0 && s.gpu_memory_util <= 1))
    return bad(fmt::format("--gpu-memory-util {} must be in (0, 1]", s.gpu_memory_util));
  if (s.block_size < 1 || s.block_size > 65536)
    return bad(fmt::format("--kv-block {} must be in [1, 65536]", s.block_size));
  if (s.device == "cpu") return std::string("cpu");
  if (s.device == "auto") return std::string(has_gpu ? "cuda" : "cpu");
  if (s.device != "cuda")
    return bad(fmt::format("--device '{}': expected auto, cpu or cuda", s.device));
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
  return {"CPU", cpu_name()};
}

int64_t kv_bytes_per_token(const ModelConfig& cfg, const std::string& device) {
  const int64_t elem = device == "cuda" ? 2 : 4;
  return 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * elem;
}

Result<KvSize> parse_kv_size(const std::string& text) {
  static const std::pair<const char*, double> kUnits[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},           {"TB", 1e12},
      {"B", 1.0}};
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, value);
  const std::string unit(rest, end);
  const Status not_a_size = bad(fmt::format(
      "KV size '{}' is not a token count (8192) or a size with a unit (512MiB, 2GiB, 1.5GB)",
      text));
  if (ec != std::errc() || !(value > 0) || !std::isfinite(value)) return not_a_size;
  if (unit.empty()) {
    if (value != std::floor(value)) return not_a_size;
    return KvSize{int64_t(value), 0};
  }
  for (const auto& [name, scale] : kUnits)
    if (unit == name) return KvSize{0, value * scale};
  return not_a_size;
}

Result<std::unique_ptr<Forward>> make_forward(const ForwardSpec& s, const Checkpoint& ck,
                                              const std::function<Model&()>& cpu_model) {
  auto device = resolve_device(s);
  if (!device.is_ok()) return device.status();
  const ModelConfig& cfg = ck.config();
  if (s.kv.bytes > 0 && given_tokens(s, cfg, device.value()) < 1)
    return bad(fmt::format("KV size of {} bytes holds no token: one takes {} bytes", s.kv.bytes,
                           kv_bytes_per_token(cfg, device.value())));
  if (device.value() == "cpu") {
    const int64_t tokens = given_tokens(s, cfg, "cpu");
    const int64_t blocks =
        kv_blocks_for(tokens > 0 ? tokens : default_kv_tokens(cfg), s.block_size);
    WEDLM_RETURN_IF_ERROR(check_cpu_pool(blocks, s, cfg));
    return std::unique_ptr<Forward>(
        std::make_unique<CpuForward>(cpu_model(), blocks, s.block_size));
  }
#ifdef WEDLM_HAVE_CUDA
  return make_cuda(s, ck);
#else
  return bad("--device " + device.value() + ": this build has no CUDA backend");
#endif
}

}  // namespace wedlm
