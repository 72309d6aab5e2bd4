#include "ops/cpu/cpu_topology.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <utility>

namespace wedlm {
namespace {

long read_number(const std::string& path) {
  std::ifstream in(path);
  long v = -1;
  return (in >> v) ? v : -1;
}

}  // namespace

int physical_cores_of(const std::vector<int>& cpus, const std::string& root) {
  std::set<std::pair<long, long>> cores;
  for (const int cpu : cpus) {
    const std::string dir = root + "/cpu" + std::to_string(cpu) + "/topology/";
    const long package = read_number(dir + "physical_package_id");
    const long core = read_number(dir + "core_id");
    if (package < 0 || core < 0)
      cores.emplace(-1, -1 - cpu);  // unknown: a core of its own
    else
      cores.emplace(package, core);
  }
  return std::max<int>(1, int(cores.size()));
}

int physical_cpu_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
  return physical_cores_of(cpus, "/sys/devices/system/cpu");
}

}  // namespace wedlm
