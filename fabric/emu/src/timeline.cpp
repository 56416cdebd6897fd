#include "rfab/emu/timeline.hpp"

#include <algorithm>
#include <cmath>

namespace rfab::emu {

namespace {
constexpr uint8_t kUnwired = 0xFF;

LinkClass classify(topo::Tier from, topo::Tier to) {
  using topo::Tier;
  switch (from) {
    case Tier::host: return LinkClass::nic;
    case Tier::leaf: return to == Tier::host ? LinkClass::leaf_down : LinkClass::leaf_up;
    case Tier::agg: return to == Tier::leaf ? LinkClass::agg_down : LinkClass::agg_up;
    case Tier::core: return LinkClass::core_down;
  }
  return LinkClass::nic;
}
}  // namespace

const char* to_string(LinkClass c) {
  switch (c) {
    case LinkClass::nic: return "host -> leaf";
    case LinkClass::leaf_up: return "leaf -> agg";
    case LinkClass::agg_up: return "agg -> core";
    case LinkClass::core_down: return "core -> agg";
    case LinkClass::agg_down: return "agg -> leaf";
    case LinkClass::leaf_down: return "leaf -> host";
  }
  return "?";
}

TimelineRecorder::TimelineRecorder(const topo::FatTree& tree) : tree_(tree), class_(tree.ports(), kUnwired) {
  for (topo::PortId p = 0; p < tree.ports(); ++p) {
    const topo::PortId peer = tree.peer(p);
    if (peer == topo::kNone) continue;
    const LinkClass c = classify(tree.tier(tree.owner(p)), tree.tier(tree.owner(peer)));
    class_[p] = uint8_t(c);
    ++links_[size_t(c)];
    // Counters of a port id are summed over the planes (one link per plane), so it carries planes x a port.
    bps_[size_t(c)] = tree.port_bps(p) * tree.planes();
    if (!tree.is_host_port(p)) ++switch_ports_;
  }
}

TimelineSample TimelineRecorder::sample(const Fabric& fabric, const StackStats& stack) const {
  TimelineSample s;
  s.t = fabric.now();
  s.payload_delivered = stack.payload_delivered;
  s.flows_completed = stack.flows_completed;
  s.cnps = stack.cnps_sent;
  const FabricStats& fs = fabric.stats();
  s.pfc_pauses = fs.pfc_pauses;
  s.ecn_marks = fs.ecn_marks;
  s.drops = fs.drops;
  uint64_t queued = 0;
  for (topo::PortId p = 0; p < tree_.ports(); ++p) {
    if (class_[p] == kUnwired) continue;
    s.tx_bytes[class_[p]] += fabric.tx_bytes(p);
    if (tree_.is_host_port(p)) continue;
    const uint64_t q = fabric.queue_bytes(p);
    queued += q;
    s.max_queue_bytes = std::max(s.max_queue_bytes, q);
  }
  s.mean_queue_bytes = switch_ports_ ? double(queued) / switch_ports_ : 0;
  return s;
}

size_t TimelineRecorder::class_of(topo::PortId p) const { return class_[p] == kUnwired ? kLinkClasses : class_[p]; }

TimelineSample TimelineRecorder::sample(Picos t, const std::array<double, kLinkClasses>& class_bytes,
                                        uint64_t payload_delivered, uint64_t flows_completed) const {
  TimelineSample s;
  s.t = t;
  s.payload_delivered = payload_delivered;
  s.flows_completed = flows_completed;
  for (size_t c = 0; c < kLinkClasses; ++c) s.tx_bytes[c] = uint64_t(std::llround(class_bytes[c]));
  return s;
}

}  // namespace rfab::emu
