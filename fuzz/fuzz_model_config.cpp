// libFuzzer: config.json and generation_config.json parsing. Any text is refused with a message
// or gives a config whose sizes are positive.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto cfg = wedlm::parse_model_config("config.json", text);
  if (cfg.is_ok()) {
    const wedlm::ModelConfig& c = cfg.value();
    if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.n_layer <= 0 || c.n_head <= 0 ||
        c.head_dim <= 0)
      std::abort();
    wedlm::ModelConfig copy = c;
    (void)wedlm::merge_generation_config("generation_config.json", text, copy);
  } else if (cfg.status().message().empty()) {
    std::abort();  // a refusal says why
  }
  return 0;
}
