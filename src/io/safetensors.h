// safetensors files: parsed, validated and viewed in place over a memory map.
// Every malformed input gives a Status naming the file, the tensor and the offending value:
// truncated file, header length past the end, bad JSON, unknown dtype, bad shapes, offsets out of
// range, overlapping or misaligned data, byte counts that disagree with shape x dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "io/mapped_file.h"

namespace wedlm {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the file's mapping; aligned to dtype_size(dtype)
  size_t nbytes = 0;

  int64_t numel() const;
  std::string shape_str() const;  // "[151936, 4096]"
};

// Parses a safetensors image already in memory (data[0..size)); `path` only names it in errors.
Result<std::vector<TensorInfo>> parse_safetensors(const std::string& path, const uint8_t* data,
                                                  size_t size);

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  // A safetensors image in memory, validated as a file would be.
  static Result<std::unique_ptr<SafetensorsFile>> from_image(std::unique_ptr<MappedFile> image);

  const std::string& path() const { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;

 private:
  SafetensorsFile(std::unique_ptr<MappedFile> file, std::vector<TensorInfo> tensors);
  std::unique_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace wedlm
