// A read-only memory map of a whole file. Weights are viewed in place, never copied.
// Move-only; the mapping lives as long as the object. Thread-safe for concurrent reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace wedlm {

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);
  // Zeroed anonymous memory of `size` bytes, writable through `writable()`, named `name` in
  // errors (an in-memory image: random weights for benchmarks).
  static Result<std::unique_ptr<MappedFile>> anonymous(const std::string& name, size_t size);
  uint8_t* writable() { return writable_ ? const_cast<uint8_t*>(data_) : nullptr; }
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;
};

// The whole file as a string (small JSON files).
Result<std::string> read_text_file(const std::string& path);

}  // namespace wedlm
