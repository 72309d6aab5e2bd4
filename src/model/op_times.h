// Per-operation device times of forwards, grouped by the forward's row count: what CudaModel
// measures with --cuda-op-times (CUDA events around each launch of an eager forward), and the
// table it reports, so one run tells where a step's time goes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace wedlm {

class OpTimes {
 public:
  // The id of an operation's name ("gemm q 17x4096x4096", "attention"); new names are appended.
  int label(const std::string& name);
  // One forward of `rows` rows spent ms[id] milliseconds in operation id (ids from label()).
  void add_forward(int64_t rows, const std::vector<double>& ms);
  // For each row count, the mean milliseconds a forward spent in each operation, largest first,
  // with its share of the forward and the forward's total, as markdown; "" before any forward.
  std::string report() const;

 private:
  struct Shape {
    int64_t forwards = 0;
    std::vector<double> ms;  // summed over the forwards, by id
  };
  std::vector<std::string> names_;
  std::map<std::string, int> ids_;
  std::map<int64_t, Shape> shapes_;
};

}  // namespace wedlm
