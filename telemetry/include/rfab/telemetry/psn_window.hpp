// Reading what the collector's per-flow PSN window and entropy table hold (layouts in bpf_types.h).
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/telemetry/bpf_types.h"

namespace rfab::telemetry {

// Packets of one UDP source port (ECMP entropy) of a flow.
struct EntropyCount {
  uint16_t port = 0;
  uint64_t packets = 0;
};

// The flow's source ports with their packets (owner's and other CPUs' tables summed), by port.
std::vector<EntropyCount> merge_entropy(const rfab_flow_stats& s);

// Holes still open in a flow's reorder window: PSNs skipped by a forward jump that have neither arrived
// nor fallen out of the window yet ("outstanding", not loss).
uint32_t outstanding_holes(uint64_t psn_state);

// The same holes as PSNs (24-bit), so two snapshots can tell which holes stayed open between them.
std::vector<uint32_t> open_hole_psns(uint64_t psn_state);

// Reordered packets by distance: the bucket's label ("1", "2-3", .., "32+").
const char* reorder_bucket_name(unsigned bucket);

}  // namespace rfab::telemetry
