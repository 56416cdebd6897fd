// An emulated run's counters as the collector's records (`rfab emulate --telemetry`): the JSON lines of
// `rfab collect --json`, one record at the start of the run (every counter 0) and one at its end, so
// `rfab validate --from` reads an emulated fabric as it reads a recorded real one (telemetry/records.hpp).
//
// What the emulator's hosts' NICs would have counted goes into the collector's families, under
// iface "host<N>" and address 10.0.0.0/8 + N (FatTree::host_ip):
//   rfab_iface_*  per NIC and direction: tx = what the NIC sent, rx = what reached it; lost (rx) = data
//                 packets to this host the fabric dropped; ecn_ce (rx) = data packets that arrived marked;
//                 cnp (rx) = CNPs that reached this host as a sender
//   rfab_roce_*   per flow (qp = the emulator's flow id): its tx record at the sender, its rx record at the
//                 receiver, and a record of its CNPs (src and dst swapped) at the sender
// and what has no collector equivalent into documented extensions (records.hpp):
//   rfab_iface_speed_bps    the NIC's link speed: the line rate of --min-line-rate
//   rfab_link_*_total       per egress port of every node (hosts and switches): packets, bytes, drops,
//                           ECN marks, PFC pauses received; rfab_link_speed_bps its speed
#pragma once
#include <ostream>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric_counters.hpp"
#include "rfab/telemetry/metrics.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::cli {

// The counters as metrics (all values 0 when `zero`: the start-of-run record).
telemetry::Metrics emulator_metrics(const topo::FatTree& tree, const emu::FabricCounters& c, bool zero);

// Writes the two records; the end record's ts_ns is `simulated` in nanoseconds (ts_ms: whole milliseconds).
// Sample by sample through a small buffer: memory beyond the counters is one value per host, whatever the
// number of flows and ports. Throws std::runtime_error when `out` fails (nothing more is formatted then).
void write_emulator_records(std::ostream& out, const topo::FatTree& tree, const emu::FabricCounters& c,
                            emu::Picos simulated);

}  // namespace rfab::cli
