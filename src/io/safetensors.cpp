#include "io/safetensors.h"

#include <algorithm>
#include <string_view>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace wedlm {
namespace {

using nlohmann::json;
constexpr int64_t kMaxElements = int64_t{1} << 40;

Status corrupt(const std::string& path, const std::string& what) {
  return Status(ErrorKind::kCorruptFile, fmt::format("{}: {}", path, what));
}

// One header entry -> TensorInfo with offsets still relative to the data section.
Result<TensorInfo> parse_entry(const std::string& path, const std::string& name, const json& e,
                               uint64_t& begin, uint64_t& end) {
  TensorInfo t;
  t.name = name;
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
    return corrupt(path,
                   fmt::format("tensor '{}': entry needs dtype, shape and data_offsets", name));
  if (!e["dtype"].is_string())
    return corrupt(path, fmt::format("tensor '{}': dtype is not a string", name));
  const auto dt = dtype_from_name(e["dtype"].get<std::string>());
  if (!dt)
    return Status(ErrorKind::kUnsupported,
                  fmt::format("{}: tensor '{}': unknown dtype '{}' (supported: F32, BF16, F16)",
                              path, name, e["dtype"].get<std::string>()));
  t.dtype = *dt;
  if (!e["shape"].is_array())
    return corrupt(path, fmt::format("tensor '{}': shape is not an array", name));
  int64_t numel = 1;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned())
      return corrupt(path, fmt::format("tensor '{}': shape {} has a non-integer or negative "
                                       "dimension",
                                       name, e["shape"].dump()));
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxElements) || (v > 0 && numel > kMaxElements / int64_t(v)))
      return corrupt(path,
                     fmt::format("tensor '{}': shape {} is too large", name, e["shape"].dump()));
    numel *= static_cast<int64_t>(v);
    t.shape.push_back(static_cast<int64_t>(v));
  }
  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    return corrupt(
        path, fmt::format("tensor '{}': data_offsets {} is not [begin, end]", name, off.dump()));
  begin = off[0].get<uint64_t>();
  end = off[1].get<uint64_t>();
  if (end < begin)
    return corrupt(
        path, fmt::format("tensor '{}': data_offsets [{}, {}] end before begin", name, begin, end));
  t.nbytes = static_cast<size_t>(numel) * dtype_size(t.dtype);
  if (end - begin != t.nbytes)
    return corrupt(path, fmt::format("tensor '{}': data_offsets [{}, {}] hold {} bytes, but {} {} "
                                     "needs {}",
                                     name, begin, end, end - begin, dtype_name(t.dtype),
                                     t.shape_str(), t.nbytes));
  return t;
}

Status check_layout(const std::string& path, std::vector<TensorInfo>& ts,
                    std::vector<std::pair<uint64_t, uint64_t>>& spans, uint64_t data_size,
                    const uint8_t* base) {
  std::vector<size_t> order(ts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return spans[a] < spans[b]; });
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const auto [b, e] = spans[i];
    if (e > data_size)
      return corrupt(path, fmt::format("tensor '{}': data_offsets [{}, {}] past the end of the "
                                       "data section ({} bytes; file truncated?)",
                                       ts[i].name, b, e, data_size));
    if (k > 0 && b < spans[order[k - 1]].second && ts[i].nbytes > 0)
      return corrupt(path, fmt::format("tensors '{}' [{}, {}) and '{}' [{}, {}) overlap",
                                       ts[order[k - 1]].name, spans[order[k - 1]].first,
                                       spans[order[k - 1]].second, ts[i].name, b, e));
    ts[i].data = base + b;
    if (reinterpret_cast<uintptr_t>(ts[i].data) % dtype_size(ts[i].dtype) != 0)
      return corrupt(path, fmt::format("tensor '{}': data at offset {} is not aligned to {} bytes",
                                       ts[i].name, b, dtype_size(ts[i].dtype)));
  }
  return Status::ok();
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Result<std::vector<TensorInfo>> parse_safetensors(const std::string& path, const uint8_t* data,
                                                  size_t size) {
  if (size < 8)
    return corrupt(path, fmt::format("{} bytes is too short for the 8-byte header length", size));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little endian
  if (n > size - 8)
    return corrupt(path,
                   fmt::format("header length {} past the end of the file ({} bytes)", n, size));
  json header;
  const std::string_view text(reinterpret_cast<const char*>(data + 8), size_t(n));
  if (json_depth(text) > kMaxJsonDepth)  // printing such a value in an error would overflow
    return corrupt(path, fmt::format("JSON header nests more than {} deep", kMaxJsonDepth));
  try {
    header = json::parse(data + 8, data + 8 + n);
  } catch (const json::exception& e) {
    return corrupt(path, fmt::format("bad JSON header: {}", e.what()));
  }
  if (!header.is_object()) return corrupt(path, "JSON header is not an object");
  std::vector<TensorInfo> ts;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    uint64_t b = 0, en = 0;
    auto t = parse_entry(path, name, e, b, en);
    if (!t.is_ok()) return t.status();
    ts.push_back(std::move(t).value());
    spans.emplace_back(b, en);
  }
  WEDLM_RETURN_IF_ERROR(check_layout(path, ts, spans, size - 8 - n, data + 8 + n));
  return ts;
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<MappedFile> file, std::vector<TensorInfo> ts)
    : file_(std::move(file)), tensors_(std::move(ts)) {
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  auto file = MappedFile::open(path);
  if (!file.is_ok()) return file.status();
  return from_image(std::move(file).value());
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::from_image(
    std::unique_ptr<MappedFile> image) {
  auto ts = parse_safetensors(image->path(), image->data(), image->size());
  if (!ts.is_ok()) return ts.status();
  return std::unique_ptr<SafetensorsFile>(
      new SafetensorsFile(std::move(image), std::move(ts).value()));
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace wedlm
