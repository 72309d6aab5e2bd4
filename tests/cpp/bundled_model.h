// The bundled checkpoint (models/wedlm-tiny) loaded once for a test suite: checkpoint, CPU ops,
// model. Header-only; tests that include it link wedlm_model.
#pragma once

#include <memory>
#include <string>

#include "io/weights.h"
#include "model/forward.h"
#include "model/model.h"
#include "test_util.h"

namespace wedlm::test {

struct BundledModel {
  std::string dir = source_dir() + "/models/wedlm-tiny";  // first: the others are built from it
  std::unique_ptr<Checkpoint> ck;
  std::unique_ptr<Ops> ops;
  std::unique_ptr<Model> model;

  BundledModel() : ck(Checkpoint::open(dir).value()), ops(make_cpu_ops()) {
    model = std::make_unique<Model>(*ck, *ops);
  }
  // A CPU forward of the model with a KV pool of its own (default: 4 x the context).
  std::unique_ptr<CpuForward> forward(int64_t kv_tokens = 0) const {
    const int64_t tokens = kv_tokens > 0 ? kv_tokens : default_kv_tokens(ck->config());
    return std::make_unique<CpuForward>(*model, kv_blocks_for(tokens, 16), 16);
  }
};

}  // namespace wedlm::test
