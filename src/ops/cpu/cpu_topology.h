// How many physical cores this process may run on: the default thread count of the CPU forward.
// Two hyper-threads of one core share its FMA units, so a second thread there adds contention
// for the matmuls, not arithmetic (llama.cpp defaults to physical cores for the same reason).
#pragma once

#include <string>
#include <vector>

namespace wedlm {

// The distinct (package, core) pairs of `cpus` as sysfs under `root` describes them
// (root/cpuN/topology/{physical_package_id,core_id}); a CPU without topology files counts as a
// core of its own. At least 1.
int physical_cores_of(const std::vector<int>& cpus, const std::string& root);
// The physical cores of the CPUs this process may run on (its affinity mask).
int physical_cpu_cores();

}  // namespace wedlm
