// Reading what the collector's per-flow PSN window and entropy table hold (layouts in bpf_types.h and
// psn_window_step.h), and the window's step itself in user space (the BPF programs' code, for tests).
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
uint32_t outstanding_holes(const rfab_psn_window& w);

// The same holes as PSNs (24-bit), so two snapshots can tell which holes stayed open between them.
std::vector<uint32_t> open_hole_psns(const rfab_psn_window& w);

// Reordered packets by distance: the bucket's label ("1", "2-3", .., "128+").
const char* reorder_bucket_name(unsigned bucket);

// One flow's window driven from user space through the programs' own step (psn_window_step.h): what the
// collector does with a flow's requests, packet by packet, without the kernel.
class PsnWindow {
 public:
  explicit PsnWindow(uint64_t hole_timeout_ns = RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT) : timeout_ns_(hole_timeout_ns) {}
  // The general path's step for one request PSN arriving at now_ns.
  rfab_psn_step step(uint32_t psn, uint64_t now_ns, bool is_read = false);
  // The fast path's in-order case: true when it applied (the window moved on by one), false when the
  // packet needs the general step (nothing changed).
  bool in_order(uint32_t psn) { return rfab_psn_window_in_order(&w_, psn) != 0; }
  const rfab_psn_window& state() const { return w_; }

 private:
  rfab_psn_window w_{};
  uint64_t timeout_ns_;
};

}  // namespace rfab::telemetry
