// Entropies that cover a flow's paths: the UDP source ports a NIC sprays over, chosen so the ECMP
// switches put them on distinct paths. Hashed entropies (spray_port) land on paths at random, so N of them
// reach fewer than N paths and some paths carry two or three shares of the flow; a NIC that knows the
// switches' hash (an entropy-to-path table, as path-aware spraying uses) picks one entropy per path.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

// The egress ports (host NIC port first) ECMP switches send a packet from `src` to `dst` with UDP source
// port `sport` through: the packet-level Router's choice at every hop (same salted hash, EcmpRouting).
void ecmp_walk(const topo::FatTree& tree, uint32_t src, uint32_t dst, uint16_t sport, std::vector<topo::PortId>& out);

// Up to `n` entropies of the spray_port(base, i) family, each on a path none of the earlier ones takes,
// in the order found. Fewer than `n` when the pair has fewer paths (hosts of one leaf have one, of one pod
// as many as a leaf has up-ports) or when `max_candidates` ports did not reach more.
std::vector<uint16_t> covering_ports(const topo::FatTree& tree, uint32_t src, uint32_t dst, uint16_t base, uint32_t n,
                                     uint32_t max_candidates = 16384);

}  // namespace rfab::emu
