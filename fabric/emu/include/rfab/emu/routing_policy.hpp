// How a switch picks among equal-cost ports toward a destination. A routing policy is any type with
//
//   uint32_t choose(topo::NodeId node, const topo::Route& route, const Packet& p, uint32_t hash, Picos now)
//
// returning one of route's local ports [first, first + count) of `node`; `hash` is the packet's flow hash
// salted by the switch (the same ECMP hash for every policy). The policies (ecmp_routing.hpp,
// adaptive_routing.hpp, flowlet_routing.hpp) share no base class: Router holds the one chosen for the run
// in a std::variant, so a routing decision costs a switch on the variant's index, not a virtual call.
//
// Also here: the two signals policies are built from, the flow hash and the queue-load comparison.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstdint>

#include "rfab/emu/egress_port.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

template <class P>
concept RoutingPolicy = requires(P& policy, topo::NodeId node, const topo::Route& route, const Packet& p,
                                 uint32_t hash, Picos now) {
  { policy.choose(node, route, p, hash, now) } -> std::same_as<uint32_t>;
};

// The RoCE v2 5-tuple hash at `node`: UDP source port = entropy, destination port 4791, protocol UDP.
inline uint32_t flow_hash(const topo::FatTree& tree, topo::NodeId node, const Packet& p) {
  topo::FlowKey key{tree.host_ip(p.src), tree.host_ip(p.dst), p.sport, 4791, 17};
  return topo::ecmp_hash(key, node);
}

// The load signal a switch ASIC has: egress queue depth, quantised like an ASIC's congestion levels, with
// a paused port counting as full.
class QueueLoad {
 public:
  QueueLoad(const topo::FatTree& tree, const EgressPorts& ports, uint64_t quantum_bytes)
      : tree_(tree), ports_(ports), quantum_(quantum_bytes == 0 ? 1 : quantum_bytes) {}

  // The least-loaded of route's ports, scanning from `start` (mod count) so that ties go to whichever
  // comes first from there: callers rotate `start` to spread ties.
  uint32_t least_loaded(topo::NodeId node, const topo::Route& r, uint32_t start) const {
    uint32_t best = r.first + start % r.count;
    uint64_t best_load = ~uint64_t{0};
    for (uint32_t i = 0; i < r.count; ++i) {
      uint32_t local = r.first + (start + i) % r.count;
      const EgressPort& p = ports_[tree_.port(node, local)];
      // Ports within one quantum tie, and ties rotate per packet, so a flow still sprays evenly when the
      // local queues are about equal (what keeps the downward hops, which a local decision cannot see,
      // balanced).
      uint64_t load = port_load(p);
      if (load < best_load) {
        best_load = load;
        best = local;
      }
    }
    return best;
  }

  // As least_loaded, but each candidate costs its own queue plus the least-loaded way on from the switch
  // it leads to, down to `dst` (downward hops included, which a local decision cannot see).
  // With `choices` > 0 only that many candidates, spaced by `stride`, are compared (power-of-N choices):
  // switches that see the same congestion at the same time would otherwise all move to the same path.
  uint32_t least_loaded_path(topo::NodeId node, const topo::Route& r, uint32_t dst, uint32_t start,
                             uint32_t choices = 0, uint32_t stride = 1) const {
    uint32_t best = r.first + start % r.count;
    uint64_t best_load = ~uint64_t{0};
    const uint32_t n = choices == 0 || choices > r.count ? r.count : choices;
    const uint32_t step = n == r.count ? 1 : 1 + stride % (r.count - 1);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t local = r.first + (start + i * step) % r.count;
      const EgressPort& p = ports_[tree_.port(node, local)];
      uint64_t load = port_load(p) + onward_load(tree_.owner(p.peer), dst);
      if (load < best_load) {
        best_load = load;
        best = local;
      }
    }
    return best;
  }

  // A port's load as the comparisons above see it: quantised queue, paused ports heavy, failed ports heavier.
  uint64_t port_load(const EgressPort& p) const {
    return p.down ? kDownLoad : p.queued / quantum_ + (p.paused ? kPausedLoad : 0);
  }

 private:
  // Summed queue load of the least-loaded way from `node` to host `dst` (0 at the host).
  uint64_t onward_load(topo::NodeId node, uint32_t dst) const {
    if (node < tree_.hosts()) return 0;
    const topo::Route r = tree_.route(node, dst);
    uint64_t best = ~uint64_t{0};
    for (uint32_t i = 0; i < r.count; ++i) {
      const EgressPort& p = ports_[tree_.port(node, r.first + i)];
      best = std::min(best, port_load(p) + onward_load(tree_.owner(p.peer), dst));
    }
    return best;
  }

  static constexpr uint64_t kPausedLoad = uint64_t{1} << 40;
  static constexpr uint64_t kDownLoad = uint64_t{1} << 50;

  const topo::FatTree& tree_;
  const EgressPorts& ports_;
  uint64_t quantum_;
};

}  // namespace rfab::emu
