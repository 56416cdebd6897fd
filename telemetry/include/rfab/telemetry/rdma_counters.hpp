// RNIC port counters from sysfs: /sys/class/infiniband/<dev>/ports/<n>/{counters,hw_counters}/<name>.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

struct RdmaCounter {
  std::string device;
  unsigned port = 0;
  bool hw = false;  // hw_counters (driver specific) rather than the standard counters
  std::string name;
  uint64_t value = 0;
  std::string netdev;  // the port's network device when sysfs says (gid_attrs/ndevs/0)
};

// Every readable counter under `root`; when `netdev` is non-empty, only ports bound to it.
// A missing root (no RDMA devices) gives an empty list; unreadable files are skipped.
std::vector<RdmaCounter> read_rdma_counters(const std::string& root = "/sys/class/infiniband",
                                            const std::string& netdev = "");

void add_rdma_metrics(Metrics& m, const std::vector<RdmaCounter>& counters);

}  // namespace rfab::telemetry
