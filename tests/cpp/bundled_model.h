// The bundled checkpoint (models/wedlm-tiny) loaded once for a test suite: checkpoint, CPU ops,
// model. Header-only; tests that include it link wedlm_model.
#pragma once

#include <memory>
#include <string>

#include "io/weights.h"
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
};

}  // namespace wedlm::test
