// The routing policy a run uses (EmuConfig::routing), and the forwarding decision made with it.
#pragma once
#include <cstddef>
#include <variant>

#include "rfab/emu/adaptive_routing.hpp"
#include "rfab/emu/config.hpp"
#include "rfab/emu/ecmp_routing.hpp"
#include "rfab/emu/flowlet_routing.hpp"

namespace rfab::emu {

class Router {
 public:
  Router(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config);

  // The local port of switch `node` a packet takes on `route` toward its destination.
  uint32_t next_hop(topo::NodeId node, const topo::Route& route, const Packet& p, Picos now) {
    if (route.count == 1) return route.first;
    const uint32_t hash = flow_hash(tree_, node, p);
    return std::visit([&](auto& policy) { return policy.choose(node, route, p, hash, now); }, policy_);
  }

  size_t memory_bytes() const;

 private:
  using Policy = std::variant<EcmpRouting, AdaptiveRouting, FlowletRouting>;
  static Policy make(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config);

  const topo::FatTree& tree_;
  Policy policy_;
};

}  // namespace rfab::emu
