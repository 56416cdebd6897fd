#include "rfab/emu/router.hpp"

namespace rfab::emu {

Router::Router(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config)
    : tree_(tree), ports_(ports), routing_(config.routing), policy_(make(tree, ports, config)) {
  if (!config.failed_ports.empty()) {
    std::vector<uint8_t> down(tree.ports(), 0);
    for (uint32_t p : config.failed_ports) down[p] = 1;
    reach_ = std::make_unique<Reachability>(tree, std::move(down));
  }
}

Router::Policy Router::make(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config) {
  switch (config.routing) {
    case Routing::ecmp:
      break;
    case Routing::ar:
      return Policy(std::in_place_type<AdaptiveRouting>, tree, ports, config);
    case Routing::flowlet:
      return Policy(std::in_place_type<FlowletRouting>, tree, ports, config);
  }
  return Policy(std::in_place_type<EcmpRouting>);
}

uint32_t Router::reroute(topo::NodeId node, const topo::Route& route, uint32_t dst, uint32_t hash) {
  uint32_t viable[256];
  uint32_t n = 0;
  for (uint32_t i = 0; i < route.count && n < 256; ++i)
    if (reach_->viable(node, route.first + i, dst)) viable[n++] = route.first + i;
  if (n == 0) return kNoRoute;
  if (routing_ != Routing::ar) return viable[hash % n];
  uint32_t best = viable[hash % n];
  uint64_t best_queued = ports_[tree_.port(node, best)].queued;
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t q = ports_[tree_.port(node, viable[i])].queued;
    if (q < best_queued) {
      best_queued = q;
      best = viable[i];
    }
  }
  return best;
}

size_t Router::memory_bytes() const {
  const auto* flowlet = std::get_if<FlowletRouting>(&policy_);
  return (flowlet ? flowlet->memory_bytes() : 0) + (reach_ ? reach_->memory_bytes() : 0);
}

}  // namespace rfab::emu
