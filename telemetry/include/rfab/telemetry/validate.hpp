// Pass/fail gates for `rfab validate`: pure functions of what the collector measured.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

struct Gate {
  std::optional<double> min_gbps;       // RoCE throughput of the busier direction
  std::optional<double> min_line_rate;  // fraction of the link speed (needs line_gbps)
  double max_loss = 0;                  // estimated lost / (received + estimated lost) request packets
  std::optional<uint64_t> max_naks;
  std::optional<uint64_t> max_cnps;
};

struct Measurement {
  double seconds = 0;
  uint64_t roce_packets = 0;
  uint64_t bytes[RFAB_DIR_COUNT] = {0, 0};
  uint64_t request_packets = 0;
  uint64_t lost_estimate = 0;
  uint64_t naks = 0;
  uint64_t cnps = 0;
  uint64_t flow_map_full = 0;
  std::optional<double> line_gbps;  // link speed when the interface reports one
  double gbps() const;              // busier direction
  double loss() const;
};

// Difference between two snapshots of one collector.
Measurement measure(const CollectorSnapshot& before, const CollectorSnapshot& after);

struct Verdict {
  bool pass = true;
  std::vector<std::string> reasons;  // one per failed gate, e.g. "throughput 3.2 Gbit/s < 10 Gbit/s"
};

Verdict evaluate(const Gate& g, const Measurement& m);

// Link speed in Gbit/s (ethtool), if the driver reports one.
std::optional<double> link_speed_gbps(const std::string& iface);

}  // namespace rfab::telemetry
