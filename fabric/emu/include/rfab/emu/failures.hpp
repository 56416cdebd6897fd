// Failed links and switches, and routing around them.
//
// A failure spec is one or more items separated by ';':
//   link:leaf3-agg1        every link between the two switches (names: leafN, aggN (spineN in a 2-tier
//                          tree), coreN, N counted from 0 within the tier)
//   switch:core5           every link of an aggregation/spine or core switch
//   random-links:0.01      this fraction of the switch-to-switch links, drawn with the run's seed
//   random-switches:3      this many aggregation/spine and core switches, drawn with the run's seed
// Failures hold from the start of the run: the routing has converged around them, as after a link-down
// event. Hosts are single-homed, so their links and leaves cannot be failed (fail a leaf's uplinks instead).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct FailureError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct FailureSet {
  std::vector<topo::PortId> ports;  // every egress port that is down (both ends of each failed link)
  uint32_t links = 0;               // failed links
  uint32_t switches = 0;            // failed switches (their links are in `links` too)
};

// Throws FailureError naming the bad item.
FailureSet parse_failures(std::string_view spec, const topo::FatTree& tree, uint64_t seed);

// The switch named like "leaf3", "agg1", "spine1", "core5"; throws FailureError.
topo::NodeId switch_by_name(std::string_view name, const topo::FatTree& tree);

// Whether a destination host can still be reached from a node through links that are up, following the
// tree's up/down routes. Memoised per (switch, destination leaf): below a switch the routes to every host
// of one leaf are the same.
class Reachability {
 public:
  Reachability(const topo::FatTree& tree, std::vector<uint8_t> port_down);

  bool down(topo::PortId p) const { return port_down_[p] != 0; }
  bool reachable(topo::NodeId node, uint32_t dst);
  // Port `local` of switch `node` is up and leads to a node from which `dst` is reachable.
  bool viable(topo::NodeId node, uint32_t local, uint32_t dst);
  size_t memory_bytes() const { return port_down_.capacity() + memo_.capacity(); }

 private:
  const topo::FatTree& tree_;
  std::vector<uint8_t> port_down_;
  std::vector<uint8_t> memo_;  // per (switch, leaf): 0 unknown, 1 reachable, 2 not
};

}  // namespace rfab::emu
