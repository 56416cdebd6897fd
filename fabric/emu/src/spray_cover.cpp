#include "rfab/emu/spray_cover.hpp"

#include <set>

#include "rfab/emu/config.hpp"
#include "rfab/emu/ecmp_routing.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/emu/routing_policy.hpp"

namespace rfab::emu {

void ecmp_walk(const topo::FatTree& tree, uint32_t src, uint32_t dst, uint16_t sport, std::vector<topo::PortId>& out) {
  Packet p;
  p.src = src;
  p.dst = dst;
  p.sport = sport;
  const EcmpRouting ecmp;
  topo::PortId port = src;
  out.push_back(port);
  for (int guard = 0; guard < 8; ++guard) {
    const topo::NodeId n = tree.owner(tree.peer(port));
    if (n == dst) return;
    const topo::Route r = tree.route(n, dst);
    const uint32_t local = r.count == 1 ? r.first : ecmp.choose(n, r, p, flow_hash(tree, n, p), 0);
    port = tree.port(n, local);
    out.push_back(port);
  }
  throw topo::TopologyError("emulator: no path from host " + std::to_string(src) + " to " + std::to_string(dst));
}

std::vector<uint16_t> covering_ports(const topo::FatTree& tree, uint32_t src, uint32_t dst, uint16_t base, uint32_t n,
                                     uint32_t max_candidates) {
  std::vector<uint16_t> ports;
  // The most paths a pair can have: every up-port choice on the way to the top tier.
  uint64_t paths = 1;
  const unsigned hops = tree.hop_count(src, dst);
  if (hops >= 4) paths *= tree.leaf_uplinks();
  if (hops >= 6) paths *= tree.radix() / 2;
  const uint64_t want = std::min<uint64_t>(n, paths);
  std::set<std::vector<topo::PortId>> seen;
  std::vector<topo::PortId> path;
  for (uint32_t i = 0; i < max_candidates && ports.size() < want; ++i) {
    const uint16_t sport = spray_port(base, i);
    path.clear();
    ecmp_walk(tree, src, dst, sport, path);
    if (seen.insert(path).second) ports.push_back(sport);
  }
  return ports;
}

}  // namespace rfab::emu
