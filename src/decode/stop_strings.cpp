#include "decode/stop_strings.h"

namespace wedlm {
namespace {

std::optional<size_t> earliest(const std::vector<std::string>& stops, const std::string& s) {
  std::optional<size_t> best;
  for (const std::string& stop : stops) {
    if (stop.empty()) continue;
    const size_t at = s.find(stop);
    if (at != std::string::npos && (!best || at < *best)) best = at;
  }
  return best;
}

}  // namespace

std::optional<StopMatch> find_stop(const std::vector<std::string>& stops, const TextFn& text,
                                   std::span<const int32_t> output, size_t first_new) {
  if (stops.empty() || !text || output.size() <= first_new) return std::nullopt;
  if (!earliest(stops, text(output))) return std::nullopt;
  for (size_t k = first_new + 1; k <= output.size(); ++k) {
    const std::string t = text(output.first(k));
    if (const auto at = earliest(stops, t)) return StopMatch{k, *at};
  }
  return std::nullopt;  // unreachable: the full output matched
}

}  // namespace wedlm
