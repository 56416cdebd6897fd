// The flow-level engine: the same topology and path choice as the packet-level fabric (flow_paths.hpp),
// with flows as fluids. Every active flow gets its max-min fair rate over the links it loads, computed
// by progressive filling; when flows start or end, only the connected part of the fabric they touch
// (the flows that share a link with them, transitively) is refilled, since max-min allocations of
// disconnected parts are independent. Between such events nothing changes, so the run costs per flow
// start/end, not per packet: a 100,000-host step runs in seconds.
//
// What it leaves out (docs/emulator.md): queues, PFC, ECN and congestion control (a fluid flow is at its
// fair share at once and the fabric is lossless), and any unfairness of the packet-level hosts and
// switches. A flow's bytes are its wire bytes (payload plus per-packet headers and framing); its
// completion adds the propagation and one frame's store-and-forward per switch (FlowPaths::delay).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric_counters.hpp"
#include "rfab/emu/flow_paths.hpp"
#include "rfab/emu/indexed_heap.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {

struct FlowEngineStats {
  uint64_t events = 0;          // flow starts and ends
  uint64_t refills = 0;         // progressive fillings (one per batch of simultaneous starts/ends)
  uint64_t refilled_flows = 0;  // flows whose rate they recomputed, summed
  uint64_t flows_completed = 0;
};

class FlowEngine {
 public:
  // `traffic.deps` adds dependencies beyond FlowSpec::after (a flow starts when all have completed).
  // Throws TrafficError for a bad flow list (flow_list.hpp) or a dependency cycle.
  // Flows that start or end within `batch_ps` of each other are handled in one refill, with starts
  // delayed by up to that much: a step's flows start within nanoseconds of each other as their
  // dependencies complete, and one refill for them instead of one each is what keeps 100,000 hosts fast.
  FlowEngine(const topo::FatTree& tree, const EmuConfig& cfg, const Traffic& traffic,
             Picos batch_ps = kDefaultBatchPs);
  static constexpr Picos kDefaultBatchPs = 1;

  // Advances virtual time to `end`; `progress` (may be empty) is called now and then with the time reached.
  void run_until(Picos end, const std::function<void(Picos)>& progress = {});

  size_t flow_count() const { return flows_.size(); }
  Picos flow_started(uint32_t f) const { return flows_[f].started; }
  Picos flow_done(uint32_t f) const { return flows_[f].done; }  // last byte received; kNeverPs while not
  uint64_t flow_delivered(uint32_t f) const;                      // payload bytes received by now()
  Picos now() const { return now_; }
  std::vector<Picos> completion_times() const;
  bool flow_local(uint32_t f) const { return flows_[f].local; }
  // Payload the fabric delivered (NVLink transfers not counted), and the hosts' offered line rate x time.
  uint64_t payload_delivered() const;
  double offered_bits(Picos end) const;
  // Port and flow counters in the packet-level engine's terms (packets, frame bytes), from the bytes each
  // flow moved over each link; a bundle's bytes are spread evenly over its ports.
  FabricCounters counters() const;
  // The same per link (a bundle of ports as one link): wire bytes carried by now(), into `out` (resized to
  // links()); and the ports a link stands for. What a report samples, without building counters.
  void link_wire_bytes(std::vector<double>& out) const;
  uint32_t links() const { return paths_.links(); }
  std::vector<topo::PortId> link_ports(uint32_t link) const { return paths_.ports_of(link); }
  const FlowEngineStats& stats() const { return stats_; }
  // Every refill fills the whole connected component instead of growing a set until each flow has a
  // bottleneck: the reference the incremental refill is checked against.
  void set_whole_component_refills(bool on) { whole_component_ = on; }
  size_t memory_bytes() const;

 private:
  struct Flow {
    FlowSpec spec;
    double wire = 0;       // wire bytes of the whole flow (infinite for a long-lived flow)
    double sent = 0;       // wire bytes sent by `settled`
    double rate = 0;       // wire bytes per picosecond
    double settled = 0;    // time (ps) `remaining` is as of
    Picos started = kNeverPs, done = kNeverPs;
    uint32_t deps_left = 0;
    Picos ready = 0;       // the latest `done` of the flows it waits for
    uint64_t first_link = 0;
    uint32_t links = 0;
    bool active = false;
    bool local = false;  // inside a server (Traffic::local): runs at local_Bps_, on no fabric link
  };
  struct Timed {
    double at;
    uint32_t flow;
    bool operator>(const Timed& o) const { return at != o.at ? at > o.at : flow > o.flow; }
  };

  double wire_bytes(uint64_t payload) const;
  void start(uint32_t f, double t, std::vector<uint32_t>& seeds);
  void finish(uint32_t f, double t, std::vector<uint32_t>& seeds);
  void refill(const std::vector<uint32_t>& seed_links, double t);
  void join(uint32_t id, double t);  // into the refill's set, its bytes settled at the old rate
  void fill();                       // progressive filling of the set, the others' rates held
  bool join_unsettled(double t);     // the flows the fill left without a bottleneck; false: none
  double share_on(uint32_t id, uint32_t link) const;
  static constexpr uint32_t kMaxRounds = 24;  // then the whole connected component
  void release_dependents(uint32_t f);

  const topo::FatTree& tree_;
  EmuConfig cfg_;
  FlowPaths paths_;
  std::vector<Flow> flows_;
  // Per flow, its links (CSR by Flow::first_link) and the flow's position in each link's active list.
  std::vector<LinkShare> flow_links_;
  std::vector<uint32_t> link_pos_;
  std::vector<std::vector<uint32_t>> on_link_;  // active flows on each link
  std::vector<double> capacity_;
  double local_Bps_ = 0;
  double batch_ps_ = 1;
  // Dependents of each flow (CSR).
  std::vector<uint64_t> dependents_first_;
  std::vector<uint32_t> dependents_;
  // Scratch for refills, stamped per refill so nothing is cleared: a link of the set, a flow of the set,
  // a flow still open in a fill (open_ == open_mark_), and each flow's bottleneck from its last fill.
  std::vector<uint32_t> link_stamp_, member_, open_, bottleneck_;
  std::vector<uint32_t> set_, set_links_;
  uint32_t open_mark_ = 0;
  bool whole_component_ = false;
  std::vector<double> frozen_load_, open_share_;
  IndexedHeap levels_;  // the links of a refill by the level at which they fill
  uint32_t stamp_ = 0;
  std::vector<Timed> starts_;  // min-heap of flows whose dependencies are done, by start time
  IndexedHeap finishes_;       // active flows by the time they send their last byte at their current rate
  Picos now_ = 0;
  FlowEngineStats stats_;
};

}  // namespace rfab::emu
