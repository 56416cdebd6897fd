// Per-port and per-flow counters of one run, kept only when asked for (Fabric::enable_counters): what
// `rfab emulate --telemetry` turns into the collector's records. Off by default so a 100k-host run pays
// nothing for them; on, they cost one branch per event and about 60 bytes per port and per flow.
#pragma once
#include <cstdint>
#include <vector>

namespace rfab::emu {

// One egress port and the link behind it.
struct PortCounters {
  uint64_t packets = 0;     // frames this port put on its link (data and control)
  uint64_t bytes = 0;       // their frame bytes (no preamble/IFG)
  uint64_t drops = 0;       // data packets refused by the switch's buffer on the way to this port
  uint64_t ecn_marks = 0;   // packets this port's queue marked CE
  uint64_t pfc_pauses = 0;  // XOFFs sent to this port by the switch at the other end of its link
  // A host's NIC port only: frames that reached the host (frames still on the wire at the end are not).
  uint64_t rx_packets = 0, rx_bytes = 0;
};

// One flow (the emulator's queue pair). src/dst are host ids, set by its first packet.
struct FlowCounters {
  uint32_t src = 0, dst = 0;
  bool seen = false;
  uint64_t packets_sent = 0, bytes_sent = 0;            // data frames its sender's NIC put on the wire
  uint64_t packets_delivered = 0, bytes_delivered = 0;  // data frames handed to the receiver
  uint64_t ce_delivered = 0;                            // of those, marked CE
  uint64_t drops = 0;                                   // data frames the fabric dropped
  uint64_t cnps_delivered = 0;                          // CNPs about it that reached its sender
};

struct FabricCounters {
  std::vector<PortCounters> ports;  // by topology port id
  std::vector<FlowCounters> flows;  // by flow id
  bool enabled() const { return !ports.empty(); }
};

}  // namespace rfab::emu
