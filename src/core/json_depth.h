// How deep a JSON text nests, found without parsing it. Printing or copying a parsed value
// recurses once per level, so text from outside (a request body, JSON carried in its strings, a
// model's config.json or safetensors header) is refused beyond kMaxJsonDepth before it is parsed.
#pragma once

#include <cstddef>
#include <string_view>

namespace wedlm {

inline constexpr size_t kMaxJsonDepth = 100;

// The deepest nesting of arrays and objects in `text` (brackets inside strings skipped).
size_t json_depth(std::string_view text);

}  // namespace wedlm
