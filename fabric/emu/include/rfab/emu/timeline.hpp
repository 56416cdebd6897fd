// A run sampled over time, for reports (`rfab emulate --report`): delivered payload, link utilisation per
// tier and direction, switch queues, PFC pauses, ECN marks and CNPs. Sampling reads the fabric's per-port
// counters, O(ports) per sample, between run_until() steps: the event loop is not touched.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/host_stack.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

// Where a link sits: its tier and direction (up toward the cores, down toward the hosts).
enum class LinkClass : uint8_t { nic, leaf_up, agg_up, core_down, agg_down, leaf_down };
inline constexpr size_t kLinkClasses = 6;
const char* to_string(LinkClass c);  // "host -> leaf", "leaf -> agg", ...

struct TimelineSample {
  Picos t = 0;
  // Cumulative since the start of the run.
  uint64_t payload_delivered = 0, flows_completed = 0;
  uint64_t pfc_pauses = 0, ecn_marks = 0, cnps = 0, drops = 0;
  std::array<uint64_t, kLinkClasses> tx_bytes{};  // wire bytes sent on the links of each class
  // At time t, over switch egress ports.
  uint64_t max_queue_bytes = 0;
  double mean_queue_bytes = 0;
};

class TimelineRecorder {
 public:
  explicit TimelineRecorder(const topo::FatTree& tree);

  TimelineSample sample(const Fabric& fabric, const StackStats& stack) const;
  // The flow-level engine's sample, from the wire bytes of each link class (FlowEngine::link_wire_bytes()
  // summed with class_of()); it has no queues, pauses, marks or drops.
  TimelineSample sample(Picos t, const std::array<double, kLinkClasses>& class_bytes, uint64_t payload_delivered,
                        uint64_t flows_completed) const;
  // The class of a wired port; kLinkClasses for an unwired one.
  size_t class_of(topo::PortId p) const;
  // Links of each class (wired egress ports), and their rate: the denominators of utilisation.
  const std::array<uint32_t, kLinkClasses>& links() const { return links_; }
  const std::array<double, kLinkClasses>& link_bps() const { return bps_; }

 private:
  const topo::FatTree& tree_;
  std::vector<uint8_t> class_;  // per port; kUnwired for unwired ports
  std::array<uint32_t, kLinkClasses> links_{};
  std::array<double, kLinkClasses> bps_{};
  uint32_t switch_ports_ = 0;
};

}  // namespace rfab::emu
