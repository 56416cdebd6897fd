// Flowlet switching: a hashed table per switch remembers each flow's port and when the flow last sent;
// after a gap longer than flowlet_gap (more than the delay skew between paths, so no reordering) the
// flow's next burst re-picks the least-loaded port.
#pragma once
#include <cstddef>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/routing_policy.hpp"

namespace rfab::emu {

class FlowletRouting {
 public:
  FlowletRouting(const topo::FatTree& tree, const EgressPorts& ports, const EmuConfig& config)
      : load_(tree, ports, config.ar_quantum_bytes),
        first_switch_(tree.hosts()),
        entries_(config.flowlet_table == 0 ? 1 : config.flowlet_table),
        gap_(config.flowlet_gap_ps),
        table_(size_t(tree.switches()) * entries_) {}

  uint32_t choose(topo::NodeId node, const topo::Route& r, const Packet&, uint32_t hash, Picos now) {
    Entry& f = table_[size_t(node - first_switch_) * entries_ + hash % entries_];
    if (f.port == ~0u || now - f.last > gap_ || f.port < r.first || f.port >= r.first + r.count)
      f.port = load_.least_loaded(node, r, hash);
    f.last = now;
    return f.port;
  }

  size_t memory_bytes() const { return table_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    Picos last = 0;
    uint32_t port = ~0u;
  };

  QueueLoad load_;
  topo::NodeId first_switch_;
  uint32_t entries_;
  Picos gap_;
  std::vector<Entry> table_;  // switches x entries
};
static_assert(RoutingPolicy<FlowletRouting>);

}  // namespace rfab::emu
