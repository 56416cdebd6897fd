// Per-packet adaptive routing (Spectrum-X style): each packet takes the least-loaded equal-cost port;
// packets of one flow spray over all of them and may arrive out of order. "Least loaded" is the switch's
// own egress queue (ArView::local) or the queues along the candidate's best way on to the destination
// (ArView::path: congestion state shared across the fabric).
#pragma once
#include "rfab/emu/routing_policy.hpp"

namespace rfab::emu {

class AdaptiveRouting {
 public:
  AdaptiveRouting(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config)
      : load_(tree, ports, config.ar_quantum_bytes), view_(config.ar_view), choices_(config.ar_choices) {}

  uint32_t choose(topo::NodeId node, const topo::Route& r, const Packet& p, uint32_t hash, Picos) const {
    // Tie-break rotation must be independent per hop: with hash + psn, the packets of a flow reaching one
    // aggregation switch all share psn mod (up-ports) and would all pick the same core.
    uint64_t x = ((uint64_t{hash} << 32) | p.psn) * 0x9E3779B97F4A7C15ull;
    const uint32_t start = uint32_t(x >> 40);
    return view_ == ArView::path ? load_.least_loaded_path(node, r, p.dst, start, choices_, uint32_t(x >> 20))
                                 : load_.least_loaded(node, r, start);
  }

 private:
  QueueLoad load_;
  ArView view_;
  uint32_t choices_;
};
static_assert(RoutingPolicy<AdaptiveRouting>);

}  // namespace rfab::emu
