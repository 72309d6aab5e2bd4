// libFuzzer: JSON Schema -> grammar -> matcher. The input is split at its first NUL: a schema, then
// text fed byte by byte to the grammar's matcher. Any schema compiles or is refused with a message;
// a compiled grammar matches any text without crashing, and a dead state stays dead.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "constrain/json_schema.h"
#include "constrain/matcher.h"
#include "core/json_depth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find('\0');
  const std::string schema_text = in.substr(0, cut);
  const std::string text = cut == std::string::npos ? "" : in.substr(cut + 1);
  if (wedlm::json_depth(schema_text) > wedlm::kMaxJsonDepth) return 0;  // refused before parsing
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) return 0;
  auto g = wedlm::constrain::compile_json_schema(schema, "schema");
  if (!g.is_ok()) {
    if (g.status().message().empty()) std::abort();  // a refusal says why
    return 0;
  }
  wedlm::constrain::State s = wedlm::constrain::State::start(g.value());
  for (char c : text) {
    const bool was_dead = s.dead();
    s = s.advance(g.value(), uint8_t(c));
    if (was_dead && !s.dead()) std::abort();
    (void)s.can_finish(g.value());
    (void)s.key();
  }
  return 0;
}
