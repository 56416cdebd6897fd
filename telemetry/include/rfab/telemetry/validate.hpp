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
  double max_loss = 0;                  // lost / (received + lost) request packets
  std::optional<uint64_t> max_naks;
  std::optional<uint64_t> max_cnps;
};

struct Measurement {
  double seconds = 0;
  uint64_t roce_packets = 0;
  uint64_t bytes[RFAB_DIR_COUNT] = {0, 0};
  uint64_t request_packets = 0;
  // From the PSN reorder windows (docs/telemetry.md): PSNs that never arrived (fell out of the window, were
  // open longer than the hole timeout, or were still missing after the settle time), the part of those
  // that arrived after the hole timeout (late: resent), packets that filled a hole in time (reordered),
  // holes still open at the end but younger than the settle time, and PSNs seen twice (retransmissions).
  uint64_t lost = 0;
  uint64_t late = 0;
  uint64_t reordered = 0;
  uint64_t reorder_distance_max = 0;
  uint64_t reorder_delay_max_ns = 0;  // the longest a hole that filled in time was open
  uint64_t outstanding = 0;
  uint64_t duplicates = 0;
  uint64_t too_old = 0;
  uint64_t naks = 0;
  uint64_t cnps = 0;
  uint64_t flow_map_full = 0;
  uint64_t unsplit_gso = 0;  // GSO/GRO skbs generic XDP saw whole: their packets and PSNs are not counted
  std::optional<double> line_gbps;  // link speed when the interface reports one
  // Records of every NIC of a fabric (records.hpp, "scope":"fabric"): what the NICs sent and what reached
  // them are the two ends of the same traffic, and the throughput gated is what arrived (rx), not the
  // busier direction (senders keep sending at line rate into a congested fabric's buffers).
  bool received_only = false;
  double gbps() const;              // busier direction, or rx when received_only
  double loss() const;
};

// Difference between two snapshots of one collector. Throughput and packets are counted from `before` to
// `after`; the PSN counters from `before` to `settled`, a snapshot taken a settle time after `after`
// (nullptr: `after` itself). A hole open in both `after` and `settled` is a PSN that did not arrive
// within the settle time after the measurement: it counts as lost. Holes open only in `settled` are
// younger than that (traffic still running) and count as outstanding.
Measurement measure(const CollectorSnapshot& before, const CollectorSnapshot& after,
                    const CollectorSnapshot* settled = nullptr);

struct Verdict {
  bool pass = true;
  std::vector<std::string> reasons;  // one per failed gate, e.g. "throughput 3.2 Gbit/s < 10 Gbit/s"
};

Verdict evaluate(const Gate& g, const Measurement& m);

// Link speed in Gbit/s (ethtool), if the driver reports one.
std::optional<double> link_speed_gbps(const std::string& iface);

}  // namespace rfab::telemetry
