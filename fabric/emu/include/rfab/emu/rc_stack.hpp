// Hosts running the real rc/ engine: every flow is a connected pair of rc::QueuePairs (requester on the
// source host, responder on the destination) moving RDMA WRITEs, with the flow's cc::Controller (DCQCN or
// line rate) inside the requester and the responder's own CNP generation. Packets are the engine's real
// bytes (BTH..ICRC); the fabric carries a handle to them, and delivers ECN-CE as RxMeta. Loss recovery,
// ACK coalescing, out-of-order placement (reorder window) and timeouts are the engine's. With one path per
// flow (ECMP, no spraying) the QPs use IBTA go-back-N; when a flow's packets can take several paths
// (adaptive or flowlet routing, or NIC spraying via EmuConfig::spray_paths, which the requester does with
// rc::EntropyPolicy::spray) they use selective recovery, so reordering is placed instead of NAKed.
//
// It costs a packet buffer (~4 KiB) per packet in flight and the QPs' own queues (plus, on multipath
// fabrics, the engine's reorder window: ~8.5 MB per flow), so it suits fabrics of a few thousand flows; PacedFlowStack is the scalable stand-in with the same FlowStack interface.
// Packet::flow carries the index of the destination endpoint (QP) instead of a flow id.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/host_stack.hpp"
#include "rfab/emu/paced_stack.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/rc/rc.hpp"

namespace rfab::emu {

class RcHostStack final : public FlowStack {
 public:
  RcHostStack(const topo::FatTree& tree, const EmuConfig& config, std::vector<FlowSpec> flows,
              ControllerFactory make_cc, Nanos cnp_interval_ns);
  ~RcHostStack() override;

  void attach(HostServices& services) override;
  bool pull(uint32_t host, Picos now, Packet& out) override;
  void deliver(uint32_t host, Picos now, const Packet& p) override;
  void on_timer(uint32_t id, Picos now) override;
  void on_drop(const Packet& p) override;

  const StackStats& stats() const override { return stats_; }
  size_t flow_count() const override { return flows_.size(); }
  uint64_t flow_delivered(uint32_t f) const override { return flows_[f].delivered; }
  Picos flow_done(uint32_t f) const override { return flows_[f].done; }
  std::vector<Picos> completion_times() const override;
  double offered_bits(Picos end) const override;
  uint64_t retransmits() const override;  // every packet resent (go-back-N or selective)

  // Loss-recovery counters summed over every QP (both ends of every flow).
  struct RecoveryStats {
    uint64_t retransmits = 0;        // packets resent, by go-back-N or selectively
    uint64_t selective_resends = 0;  // of which single packets resent for a selective NAK or a timeout
    uint64_t seq_naks_sent = 0, seq_naks_received = 0;
    uint64_t timeouts = 0;
    uint64_t out_of_order = 0;  // request packets that arrived ahead of the expected PSN and were held/placed
  };
  RecoveryStats recovery_stats() const;
  bool selective_recovery() const { return multipath_; }

 private:
  static constexpr uint64_t kChunk = 1 << 20;  // bytes per posted RDMA WRITE
  static constexpr uint32_t kOutstanding = 4;  // WRITEs kept posted for a long-lived flow
  // Multipath reorder window, in PSNs: the engine's maximum. It caps the requester's packets in flight,
  // and AR on a loaded 3-tier fabric keeps ~1 MiB per flow in flight (bench/results, emulator-routing:
  // a 256-PSN window cuts AR's permutation throughput from 0.89 to 0.78). The engine gives every QP of a
  // reordering connection this many packet-sized slots (~4 KiB each): ~8.5 MB per flow.
  static constexpr uint16_t kReorderWindow = 1024;

  struct Endpoint {
    std::unique_ptr<rc::QueuePair> qp;
    uint32_t host = 0;
    uint32_t flow = 0;
    bool requester = false;
    Picos timer_ps = kNeverPs;
  };
  struct Flow {
    FlowSpec spec;
    std::unique_ptr<cc::Controller> cc;
    uint64_t posted = 0, completed = 0, delivered = 0;
    Picos started = kNeverPs, done = kNeverPs;
  };

  void connect(Endpoint& ep, uint32_t remote_qpn);
  void start_flow(uint32_t f, Picos now);
  void post_more(uint32_t f);
  void arm(uint32_t ep, Picos now);
  void after_input(uint32_t ep, Picos now);
  void drain_completions(Picos now);
  uint32_t alloc_blob();

  const topo::FatTree& tree_;
  EmuConfig cfg_;
  ControllerFactory make_cc_;
  bool multipath_;  // a flow's packets can take several paths: selective recovery, reorder window
  Nanos cnp_interval_;
  rc::ProtectionDomain pd_;
  rc::CompletionQueue send_cq_, recv_cq_;
  std::vector<uint8_t> memory_;  // one MR every WRITE reads from and lands in (contents do not matter)
  rc::MemoryRegion* mr_ = nullptr;
  std::vector<Flow> flows_;
  std::vector<Endpoint> eps_;                   // 2 per flow: requester 2f, responder 2f+1 (QPN = index+1)
  std::vector<std::vector<uint32_t>> host_eps_;  // endpoints per host
  std::vector<uint32_t> cursor_;                // round-robin position per host
  std::vector<std::vector<uint8_t>> blobs_;
  std::vector<uint32_t> free_blobs_;
  std::vector<std::vector<uint32_t>> dependents_;
  HostServices* svc_ = nullptr;
  StackStats stats_;
};

}  // namespace rfab::emu
