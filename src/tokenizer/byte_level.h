// GPT-2's byte-level alphabet (bytes_to_unicode): each byte stands as one printable code point in
// vocabulary strings. Internal to the tokenizer layer.
#pragma once

#include <string>
#include <vector>

namespace wedlm {

struct ByteMap {
  std::string to_char[256];  // UTF-8 of the code point standing for each byte
  std::vector<int> to_byte = std::vector<int>(512, -1);  // code point -> byte
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const int cp = printable ? b : 256 + n++;
      to_byte[size_t(cp)] = b;
      to_char[b] = cp < 0x80 ? std::string(1, char(cp))
                             : std::string{char(0xc0 | (cp >> 6)), char(0x80 | (cp & 0x3f))};
    }
  }
};

inline const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace wedlm
