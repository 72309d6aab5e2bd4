// libFuzzer: the bundled model's tokenizer (a Qwen-style byte-level BPE with added tokens). Any
// bytes encode without a crash, with and without special tokens; what encodes decodes; ASCII
// text without special tokens round-trips exactly (NFC and byte-level BPE keep it as it is).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tokenizer/tokenizer.h"

namespace {

const wedlm::Tokenizer& tokenizer() {
  static const wedlm::Tokenizer tok =
      wedlm::Tokenizer::load(WEDLM_SOURCE_DIR "/models/wedlm-tiny/tokenizer.json").value();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const wedlm::Tokenizer& tok = tokenizer();
  for (bool special : {false, true}) {
    auto ids = tok.encode(text, special);
    if (!ids.is_ok()) continue;  // invalid UTF-8 is refused
    auto back = tok.decode(ids.value(), false);
    if (!back.is_ok()) std::abort();  // encode made an id decode does not know
    bool ascii = true;
    for (unsigned char c : text) ascii = ascii && c < 0x80;
    if (!special && ascii && back.value() != text) std::abort();
  }
  return 0;
}
