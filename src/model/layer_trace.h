// Watching a forward layer by layer: every Forward calls an optional LayerObserver with each
// layer's output and the final norm's, so that two forwards that disagree (the CPU and a device,
// two builds, two precisions) can be traced to the first layer that departs (LayerTrace).
//
// Which rows: every row of the batch for layers 0 .. n_layer-2; the batch's logit rows (in
// logit-row order) for the last layer and the final norm, since past the last layer's K/V only
// those are computed (model.h). Values are fp32 on the host, whatever the forward's precision.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace wedlm {

struct LayerOutput {
  int64_t layer = 0;              // 0 .. n_layer-1; n_layer: the final norm's output
  std::span<const int32_t> rows;  // batch rows, in order
  std::span<const float> values;  // [rows.size(), hidden]
};

// Called on the forward's thread, during the forward; it must not call back into the forward.
using LayerObserver = std::function<void(const LayerOutput&)>;

// A record of one forward's layer outputs, and where two records part.
class LayerTrace {
 public:
  // An observer that appends to this trace (which must outlive the forward it watches).
  LayerObserver recorder();
  void clear() { layers_.clear(); }

  struct Layer {
    int64_t layer = 0;
    std::vector<int32_t> rows;
    std::vector<float> values;
  };
  const std::vector<Layer>& layers() const { return layers_; }

  // The first layer at which `a` and `b` differ by more than `tol` relative to the largest
  // magnitude of that layer's values in `a` (or hold other rows); nullopt when none does.
  static std::optional<int64_t> first_departure(const LayerTrace& a, const LayerTrace& b,
                                                double tol);

 private:
  std::vector<Layer> layers_;
};

}  // namespace wedlm
