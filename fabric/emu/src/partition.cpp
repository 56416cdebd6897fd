#include "rfab/emu/partition.hpp"

#include <stdexcept>
#include <string>

namespace rfab::emu {

using topo::NodeId;
using topo::Tier;

Partition::Partition(const topo::FatTree& tree, uint32_t parts, uint32_t self)
    : parts_(parts), self_(self), lookahead_(tree.latency_ps()) {
  if (parts == 0 || parts > kMaxParts || self >= parts)
    throw std::invalid_argument("partitions: part " + std::to_string(self) + " of " + std::to_string(parts) +
                                " (1.." + std::to_string(kMaxParts) + " parts)");
  const bool pods = tree.tiers() == 3;
  const uint32_t units = pods ? tree.pods() : tree.leaves();
  if (parts > units)
    throw std::invalid_argument("partitions: " + std::to_string(parts) + " parts for a tree of " + std::to_string(units) +
                                (pods ? " pods" : " leaves") + "; a part needs at least one " + (pods ? "pod" : "leaf"));
  if (lookahead_ == 0)
    throw std::invalid_argument("partitions: links without latency leave a partitioned run no lookahead; give the "
                                "topology a latency > 0");
  // Contiguous blocks of units, as even as the division allows.
  auto unit_part = [&](uint32_t unit) { return uint32_t(uint64_t{unit} * parts / units); };
  auto leaf_part = [&](uint32_t leaf_index) { return unit_part(pods ? tree.pod_of_leaf(leaf_index) : leaf_index); };
  const uint32_t first_leaf = tree.hosts(), first_agg = first_leaf + tree.leaves(), first_core = first_agg + tree.aggs();
  std::vector<uint16_t> node_part(tree.nodes());
  for (NodeId n = 0; n < tree.nodes(); ++n) {
    uint32_t part = 0;
    switch (tree.tier(n)) {
      case Tier::host: part = leaf_part(tree.leaf_of(n) - first_leaf); break;
      case Tier::leaf: part = leaf_part(n - first_leaf); break;
      case Tier::agg:
        // 3-tier: a pod's aggregation switches are numbered together (leaf_uplinks() per pod); 2-tier: spines.
        part = pods ? unit_part((n - first_agg) / tree.leaf_uplinks()) : (n - first_agg) % parts;
        break;
      case Tier::core: part = (n - first_core) % parts; break;
    }
    node_part[n] = uint16_t(part);
  }
  port_part_.resize(tree.ports());
  for (topo::PortId p = 0; p < tree.ports(); ++p) port_part_[p] = node_part[tree.owner(p)];
  out_.resize(parts);
}

std::vector<std::vector<RemoteEvent>> Partition::take_outbox() {
  std::vector<std::vector<RemoteEvent>> out(parts_);
  out.swap(out_);
  return out;
}

}  // namespace rfab::emu
