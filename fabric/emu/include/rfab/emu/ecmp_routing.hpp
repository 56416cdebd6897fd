// ECMP: every packet of a flow takes the port its 5-tuple hashes to, so flows never reorder but colliding
// flows share a path however idle the others are.
#pragma once
#include "rfab/emu/routing_policy.hpp"

namespace rfab::emu {

class EcmpRouting {
 public:
  uint32_t choose(topo::NodeId, const topo::Route& r, const Packet&, uint32_t hash, Picos) const {
    return r.first + hash % r.count;
  }
};
static_assert(RoutingPolicy<EcmpRouting>);

}  // namespace rfab::emu
