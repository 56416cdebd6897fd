// What an emulation will cost before it starts: the number of flows a traffic spec makes (without making
// them) and the memory the fabric and the host stack take to set up, so a run that cannot fit is refused
// with the estimate and the limit instead of dying in std::bad_alloc after minutes of allocation.
//
// The per-item costs are measured (peak RSS of `rfab emulate --time 1ns`, docs/emulator.md "Limits") and
// rounded up. Packets in flight depend on congestion: the estimate assumes a congested fabric, and
// run_scenario also checks the process's resident memory against the limit as the run goes.
#pragma once
#include <cstdint>
#include <string_view>

#include "rfab/emu/config.hpp"
#include "rfab/emu/fabric_counters.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

// Flows `spec` makes on `tree`; 0 for file:PATH (only reading the file tells, and reading is bounded).
// Throws TrafficError for a spec it cannot read (the same errors make_traffic throws).
uint64_t traffic_flow_count(std::string_view spec, const topo::FatTree& tree);

enum class StackKind { paced, rc };

// Packets a congested fabric holds: every switch about its PFC XOFF threshold per port (lossless) or its
// whole buffer (lossy), plus a bandwidth-delay product on every link.
uint64_t estimate_in_flight_packets(const topo::FatTree& tree, const EmuConfig& cfg);

// Bytes a run holds: fabric ports and per-switch state, the flow list, the host stack's per-flow state (for
// rc, two queue pairs per flow; on multipath runs their reorder windows, which fill under reordering) and
// the packets of a congested fabric (estimate_in_flight_packets).
uint64_t estimate_memory(const topo::FatTree& tree, const EmuConfig& cfg, StackKind stack, uint64_t flows);

// Bytes the per-port and per-flow counters of --telemetry / --prometheus take (FabricCounters), in `copies`
// places at once: the fabric's and the report's (packet engine), plus the reduced copy of a partitioned
// run; the flow engine builds one set from its own state.
uint64_t estimate_counter_memory(const topo::FatTree& tree, uint64_t flows, unsigned copies);

}  // namespace rfab::emu
