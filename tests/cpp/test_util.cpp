#include "test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace wedlm::test {
namespace fs = std::filesystem;

namespace {
struct TempRoot {
  fs::path root;
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "wedlm-test-XXXXXX").string();
    root = mkdtemp(tmpl.data());
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};
size_t element_size(const std::string& dtype) { return dtype == "F32" ? 4 : 2; }
}  // namespace

std::string temp_dir() {
  static TempRoot root;
  static int n = 0;
  fs::path p = root.root / std::to_string(n++);
  fs::create_directories(p);
  return p.string();
}

std::vector<uint8_t> safetensors_image(const std::vector<RawTensor>& tensors) {
  nlohmann::ordered_json header;
  std::vector<uint8_t> data;
  for (const RawTensor& t : tensors) {
    std::vector<uint8_t> bytes = t.bytes;
    if (bytes.empty()) {
      size_t n = element_size(t.dtype);
      for (int64_t d : t.shape) n *= static_cast<size_t>(d);
      for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(i * 7 + 1));
    }
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data.insert(data.end(), bytes.begin(), bytes.end());
  }
  std::string h = header.empty() ? "{}" : header.dump();
  while (h.size() % 8 != 0) h += ' ';
  std::vector<uint8_t> out;
  out.reserve(8 + h.size() + data.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(uint64_t(h.size()) >> (8 * i)));
  for (char c : h) out.push_back(static_cast<uint8_t>(c));
  for (uint8_t b : data) out.push_back(b);
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// WEDLM_SOURCE_DIR in the environment overrides the build's path (test binaries run elsewhere,
// e.g. carried to the GPU machine).
std::string source_dir() {
  const char* env = std::getenv("WEDLM_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : WEDLM_SOURCE_DIR;
}
std::string shared_dir() {  // WEDLM_SHARED_DIR in the environment overrides it
  const char* env = std::getenv("WEDLM_SHARED_DIR");
  if (env != nullptr && *env != '\0') return env;
  return (fs::path(WEDLM_SOURCE_DIR) / ".." / "shared").string();
}

}  // namespace wedlm::test
