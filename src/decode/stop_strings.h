// Stop strings matched on the decoded text, not on token boundaries: a stop string that spans
// several tokens, or starts inside one, still stops generation. On a match the output keeps the
// tokens up to the one that completes the stop string (as the Tencent engine keeps them), and the
// reply text ends just before the stop string (as the OpenAI API returns it).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wedlm {

// Token ids -> text (special tokens skipped); provided by whoever owns a tokenizer.
using TextFn = std::function<std::string(std::span<const int32_t>)>;

struct StopMatch {
  size_t n_tokens;  // output tokens to keep
  size_t text_end;  // byte length of the reply text (the stop string starts here)
};

// Checks whether output[0..n) contains a stop string that output[0..first_new) did not; the match
// is the earliest one, cut at the shortest token prefix that contains it.
std::optional<StopMatch> find_stop(const std::vector<std::string>& stops, const TextFn& text,
                                   std::span<const int32_t> output, size_t first_new);

}  // namespace wedlm
