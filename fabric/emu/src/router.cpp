#include "rfab/emu/router.hpp"

namespace rfab::emu {

Router::Router(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config)
    : tree_(tree), policy_(make(tree, ports, config)) {}

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

size_t Router::memory_bytes() const {
  const auto* flowlet = std::get_if<FlowletRouting>(&policy_);
  return flowlet ? flowlet->memory_bytes() : 0;
}

}  // namespace rfab::emu
