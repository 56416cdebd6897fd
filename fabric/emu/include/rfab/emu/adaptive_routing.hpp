// Per-packet adaptive routing (Spectrum-X style): each packet takes the least-loaded equal-cost port;
// packets of one flow spray over all of them and may arrive out of order.
#pragma once
#include "rfab/emu/routing_policy.hpp"

namespace rfab::emu {

class AdaptiveRouting {
 public:
  AdaptiveRouting(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config)
      : load_(tree, ports, config.ar_quantum_bytes) {}

  uint32_t choose(topo::NodeId node, const topo::Route& r, const Packet& p, uint32_t hash, Picos) const {
    // Tie-break rotation must be independent per hop: with hash + psn, the packets of a flow reaching one
    // aggregation switch all share psn mod (up-ports) and would all pick the same core.
    uint64_t x = ((uint64_t{hash} << 32) | p.psn) * 0x9E3779B97F4A7C15ull;
    return load_.least_loaded(node, r, uint32_t(x >> 40));
  }

 private:
  QueueLoad load_;
};
static_assert(RoutingPolicy<AdaptiveRouting>);

}  // namespace rfab::emu
