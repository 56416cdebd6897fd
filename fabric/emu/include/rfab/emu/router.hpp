// The routing policy a run uses (EmuConfig::routing), and the forwarding decision made with it.
#pragma once
#include <cstddef>
#include <memory>
#include <variant>

#include "rfab/emu/adaptive_routing.hpp"
#include "rfab/emu/config.hpp"
#include "rfab/emu/ecmp_routing.hpp"
#include "rfab/emu/failures.hpp"
#include "rfab/emu/flowlet_routing.hpp"

namespace rfab::emu {

class Router {
 public:
  static constexpr uint32_t kNoRoute = ~uint32_t{0};

  Router(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config);

  // The local port of switch `node` a packet takes on `route` toward its destination, or kNoRoute when
  // failed links leave no way there.
  uint32_t next_hop(topo::NodeId node, const topo::Route& route, const Packet& p, Picos now) {
    if (route.count == 1) {
      if (!reach_ || reach_->viable(node, route.first, p.dst)) return route.first;
      return kNoRoute;
    }
    const uint32_t hash = flow_hash(tree_, node, p);
    const uint32_t local = std::visit([&](auto& policy) { return policy.choose(node, route, p, hash, now); }, policy_);
    if (reach_ && !reach_->viable(node, local, p.dst)) return reroute(node, route, p.dst, hash);
    return local;
  }

  size_t memory_bytes() const;

 private:
  using Policy = std::variant<EcmpRouting, AdaptiveRouting, FlowletRouting>;
  static Policy make(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config);
  // The policy's choice leads into a failure: among the ports that still reach dst, the least loaded
  // (adaptive routing) or the one the flow hash picks (ECMP and flowlet: the flows on a failed path
  // rehash, the others stay).
  uint32_t reroute(topo::NodeId node, const topo::Route& route, uint32_t dst, uint32_t hash);

  const topo::FatTree& tree_;
  const EgressPorts& ports_;
  Routing routing_;
  Policy policy_;
  std::unique_ptr<Reachability> reach_;  // only when links are down
};

}  // namespace rfab::emu
