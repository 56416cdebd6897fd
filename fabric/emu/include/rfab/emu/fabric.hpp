// The packet-level fabric: hosts' NICs and switches joined by links, driven by one event queue. It wires
// together, htsim-style, parts that each model one thing:
//   EgressPorts   egress queues (data FIFO + strict-priority control FIFO), serialisation and propagation
//   SharedBuffer  the switches' shared buffers: lossy dynamic-threshold admission, PFC ingress accounting
//   EcnMarker     WRED ECN marking at enqueue
//   Router        the run's routing policy: ECMP, per-packet adaptive routing or flowlets
// and moves packets between them and the HostStack. State is a few dozen bytes per port and per switch;
// routes come from the topology on demand.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/ecn_marker.hpp"
#include "rfab/emu/egress_port.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric_counters.hpp"
#include "rfab/emu/host_stack.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/emu/partition.hpp"
#include "rfab/emu/router.hpp"
#include "rfab/emu/shared_buffer.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct FabricStats {
  uint64_t events = 0;
  uint64_t packets_sent = 0;       // packets put on the wire by hosts
  uint64_t packets_delivered = 0;  // packets handed to a destination host
  uint64_t drops = 0;              // buffer overflows (lossy tail drop, or lossless headroom exhausted),
                                   // and `unroutable`
  uint64_t unroutable = 0;         // packets with no way left to their destination (failed links)
  uint64_t pfc_pauses = 0;         // XOFF frames sent
  uint64_t pfc_resumes = 0;        // XON frames sent
  uint64_t ecn_marks = 0;
  uint64_t max_queue_bytes = 0;    // deepest egress queue seen (switch ports)
};

class Fabric final : public HostServices {
 public:
  // With `part` (partition.hpp), this fabric runs only the nodes of that part: the stack's wakes and timers
  // for other parts' hosts are ignored (their part runs them), and frames for other parts' ports go to the
  // part's outbox. `part` must outlive the fabric.
  Fabric(const topo::FatTree& tree, const EmuConfig& config, HostStack& stack, Partition* part = nullptr);
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  // Processes every event up to and including time `until`; afterwards now() == until.
  void run_until(Picos until);
  // Called about every 2^18 events with the current time (progress bars); may be empty.
  void set_progress(std::function<void(Picos)> fn) { progress_ = std::move(fn); }

  // Time of the earliest pending event; kNeverPs when none is. Moves nothing (EventQueue::peek_time).
  Picos next_event_time() const { return q_.peek_time(); }
  // Schedules an event another part sent here (Partition::send). Its time must be after now(), which
  // run_until() leaves at its `until`: throws std::logic_error otherwise (a window overran the lookahead).
  void inject(const RemoteEvent& e);

  Picos now() const { return now_; }
  const FabricStats& stats() const { return stats_; }
  // Keep per-port and per-flow counters (fabric_counters.hpp) for `flows` flows from now on.
  void enable_counters(size_t flows);
  const FabricCounters& counters() const { return counters_; }
  const topo::FatTree& tree() const { return tree_; }
  const EmuConfig& config() const { return cfg_; }
  uint64_t queue_bytes(topo::PortId p) const { return ports_[p].queued; }
  uint64_t max_queue_bytes(topo::PortId p) const { return ports_[p].max_queued; }
  uint64_t pauses_received(topo::PortId p) const { return ports_[p].pauses; }
  uint64_t tx_bytes(topo::PortId p) const { return ports_[p].tx_bytes; }
  uint64_t headroom_bytes() const { return buffer_.headroom_bytes(); }
  // Current dynamic XOFF threshold of switch `sw` (index among switches).
  uint64_t xoff_bytes(uint32_t sw) const { return buffer_.xoff_threshold(sw); }
  size_t packets_in_flight() const { return pool_.live(); }
  // Approximate heap bytes held by the fabric's own structures (ports, switches, pool, event queue).
  size_t memory_bytes() const;

  // HostServices
  void wake(uint32_t host, Picos at) override;
  void timer(uint32_t id, Picos at) override;

 private:
  void dispatch(const Event& e);
  void on_tx_done(uint32_t port);
  void on_arrive(uint32_t port, uint32_t pkt);
  void on_pfc(uint32_t port, bool pause);
  void try_pull(uint32_t host);
  void start_tx(uint32_t port);
  void forward(topo::NodeId node, uint32_t in_port, uint32_t pkt);
  void release_ingress(uint32_t pkt);
  void count_tx(uint32_t port, const Packet& p);
  void count_delivery(uint32_t host, const Packet& p);
  FlowCounters* flow_counters(const Packet& p) {
    return p.flow < counters_.flows.size() ? &counters_.flows[p.flow] : nullptr;
  }
  uint32_t switch_index(topo::NodeId node) const { return node - tree_.hosts(); }

  const topo::FatTree& tree_;
  EmuConfig cfg_;
  HostStack& stack_;
  PacketPool pool_;
  EventQueue q_;
  EgressPorts ports_;
  SharedBuffer buffer_;
  EcnMarker ecn_;
  Router router_;
  Partition* part_ = nullptr;
  std::vector<Picos> host_wake_;  // pending wake time per host (dedupes wake events)
  FabricStats stats_;
  FabricCounters counters_;
  Picos now_ = 0;
  std::function<void(Picos)> progress_;
};

}  // namespace rfab::emu
