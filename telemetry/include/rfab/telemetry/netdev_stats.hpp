// Network device statistics: the kernel's 64-bit link counters (rtnetlink IFLA_STATS64) and the
// driver's ethtool statistics (ETHTOOL_GSTATS), which include pause/PFC frames where a driver counts them.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

struct NetdevStats {
  std::string iface;
  std::vector<std::pair<std::string, uint64_t>> link;     // rx_packets, tx_bytes, rx_dropped, ...
  std::vector<std::pair<std::string, uint64_t>> ethtool;  // driver names, as `ethtool -S` prints them
};

// Throws TelemetryError when the interface does not exist or netlink fails; a driver without
// ethtool statistics gives an empty `ethtool` list.
NetdevStats read_netdev_stats(const std::string& iface);

void add_netdev_metrics(Metrics& m, const NetdevStats& s);

}  // namespace rfab::telemetry
