// The packet-level fabric: egress ports (FIFO + strict-priority control queue) with serialization and
// propagation delay, switches with a shared buffer, WRED ECN marking, PFC (per-ingress accounting,
// XOFF/XON, headroom, hop-by-hop pause), tail drop when lossy, and ECMP / adaptive / flowlet routing.
// State is a few dozen bytes per port and per switch; routes come from the topology on demand.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/host_stack.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct FabricStats {
  uint64_t events = 0;
  uint64_t packets_sent = 0;       // packets put on the wire by hosts
  uint64_t packets_delivered = 0;  // packets handed to a destination host
  uint64_t drops = 0;              // buffer overflows (lossy tail drop, or lossless headroom exhausted)
  uint64_t pfc_pauses = 0;         // XOFF frames sent
  uint64_t pfc_resumes = 0;        // XON frames sent
  uint64_t ecn_marks = 0;
  uint64_t max_queue_bytes = 0;    // deepest egress queue seen (switch ports)
};

class Fabric final : public HostServices {
 public:
  Fabric(const topo::FatTree& tree, const EmuConfig& config, HostStack& stack);
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  // Processes every event up to and including time `until`; afterwards now() == until.
  void run_until(Picos until);
  // Called about every 2^18 events with the current time (progress bars); may be empty.
  void set_progress(std::function<void(Picos)> fn) { progress_ = std::move(fn); }

  Picos now() const { return now_; }
  const FabricStats& stats() const { return stats_; }
  const topo::FatTree& tree() const { return tree_; }
  const EmuConfig& config() const { return cfg_; }
  uint64_t queue_bytes(topo::PortId p) const { return ports_[p].queued; }
  uint64_t max_queue_bytes(topo::PortId p) const { return ports_[p].max_queued; }
  uint64_t pauses_received(topo::PortId p) const { return ports_[p].pauses; }
  uint64_t tx_bytes(topo::PortId p) const { return ports_[p].tx_bytes; }
  uint64_t headroom_bytes() const { return headroom_; }
  // Current dynamic XOFF threshold of switch `sw` (index among switches).
  uint64_t xoff_bytes(uint32_t sw) const { return xoff_threshold(sw); }
  size_t packets_in_flight() const { return pool_.live(); }
  // Approximate heap bytes held by the fabric's own structures (ports, switches, pool, event queue).
  size_t memory_bytes() const;

  // HostServices
  void wake(uint32_t host, Picos at) override;
  void timer(uint32_t id, Picos at) override;

 private:
  enum Kind : uint8_t { kTxDone, kArrive, kPfc, kHostWake, kTimer };
  static constexpr uint32_t kNil = PacketPool::kNil;

  struct Port {
    uint32_t peer = topo::kNone;
    uint32_t head = kNil, tail = kNil;    // data FIFO (PFC-paused as a whole)
    uint32_t chead = kNil, ctail = kNil;  // control FIFO (CNP/ACK): strict priority, never paused
    uint64_t queued = 0;                  // frame bytes waiting in the data FIFO
    uint64_t ingress = 0;                 // PFC: bytes buffered at this node that arrived on this port
    uint64_t max_queued = 0;
    uint64_t tx_bytes = 0;
    uint32_t pauses = 0;                  // XOFFs received on this egress
    bool host_link = false;
    bool busy = false;
    bool paused = false;                  // downstream told us XOFF
    bool xoff_sent = false;               // we told upstream XOFF (as an ingress)
  };
  struct Flowlet {
    Picos last = 0;
    uint32_t port = ~0u;
  };

  void dispatch(const Event& e);
  void on_tx_done(uint32_t port);
  void on_arrive(uint32_t port, uint32_t pkt);
  void on_pfc(uint32_t port, bool pause);
  void try_pull(uint32_t host);
  void start_tx(uint32_t port);
  void transmit(uint32_t port, uint32_t pkt);
  void forward(topo::NodeId node, uint32_t in_port, uint32_t pkt);
  uint32_t choose_up(topo::NodeId node, const topo::Route& r, const Packet& p);
  uint32_t least_loaded(topo::NodeId node, const topo::Route& r, uint32_t start) const;
  void release_ingress(uint32_t pkt);
  bool admit(uint32_t sw, uint32_t in_port, uint32_t out_port, uint32_t frame);
  bool wred_mark(uint64_t queued);
  uint64_t xoff_threshold(uint32_t sw) const;
  Picos ser_ps(const Port& port, uint32_t frame) const;
  uint64_t rng();

  const topo::FatTree& tree_;
  EmuConfig cfg_;
  HostStack& stack_;
  std::vector<Port> ports_;
  std::vector<uint64_t> buffer_used_;  // per switch
  std::vector<Picos> host_wake_;       // pending wake time per host (dedupes wake events)
  std::vector<Flowlet> flowlets_;      // switches x flowlet_table, only with Routing::flowlet
  PacketPool pool_;
  EventQueue q_;
  FabricStats stats_;
  Picos now_ = 0;
  Picos latency_ = 0;
  double ps_per_byte_host_ = 0, ps_per_byte_link_ = 0;
  uint64_t headroom_ = 0;
  std::vector<uint64_t> reserved_;     // per switch: headroom set aside for its ports (lossless)
  uint64_t rng_state_ = 0;
  std::function<void(Picos)> progress_;
};

}  // namespace rfab::emu
