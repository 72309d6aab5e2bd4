// libFuzzer: the safetensors parser on any image. It refuses or returns tensors whose bytes lie
// inside the image, aligned, with nbytes = numel x dtype size.
#include <cstdint>
#include <cstdlib>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tensors = wedlm::parse_safetensors("fuzz.safetensors", data, size);
  if (!tensors.is_ok()) return 0;
  for (const wedlm::TensorInfo& t : tensors.value()) {
    if (t.data < data || t.data + t.nbytes > data + size) std::abort();
    if (size_t(t.numel()) * wedlm::dtype_size(t.dtype) != t.nbytes) std::abort();
  }
  return 0;
}
