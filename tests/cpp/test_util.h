// Helpers for the C++ tests: temporary directories and hand-built safetensors files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wedlm::test {

struct RawTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", or anything (for bad-dtype tests)
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // filled with a pattern when empty: numel * element size
};

// A fresh empty directory under the system temp dir, removed at process exit.
std::string temp_dir();
// The bytes of a valid safetensors file holding `tensors` in order.
std::vector<uint8_t> safetensors_image(const std::vector<RawTensor>& tensors);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);
std::string source_dir();  // repository root
std::string shared_dir();  // ../shared beside the repository

}  // namespace wedlm::test
