// The emulator's host stack: each flow is segmented into MTU packets with consecutive PSNs, paced at its
// congestion controller's rate (cc::Controller: DCQCN reaction point or line rate). A host's NIC serves
// its flows earliest-eligible-first, so equal-rate flows share the NIC round-robin. Receivers count
// delivered payload (packets may arrive out of order under adaptive routing or NIC spraying, where a host
// rotates each flow's packets over EmuConfig::spray_paths UDP source ports: RoCE NICs place them by PSN),
// and act as the DCQCN notification point: ECN-CE data triggers a CNP back to the sender, at most one per
// flow per interval (cc::CnpGenerator).
//
// This stack does not retransmit: under lossy operation a dropped packet is counted by the fabric and its
// flow never completes (it shows up as an incomplete flow, and its delivered bytes stay short). Loss
// recovery belongs to the rc/ engine, which plugs into the same HostStack interface.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "rfab/congestion/controller.hpp"
#include "rfab/congestion/notification_point.hpp"
#include "rfab/emu/config.hpp"
#include "rfab/emu/host_stack.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {

using ControllerFactory = std::function<std::unique_ptr<cc::Controller>(double line_bps)>;

class PacedFlowStack final : public FlowStack {
 public:
  // `cnp_interval_ns` = 0 disables CNPs (no notification point).
  PacedFlowStack(const topo::FatTree& tree, const EmuConfig& config, std::vector<FlowSpec> flows,
                 ControllerFactory make_cc, Nanos cnp_interval_ns);

  void attach(HostServices& services) override;
  bool pull(uint32_t host, Picos now, Packet& out) override;
  void deliver(uint32_t host, Picos now, const Packet& p) override;
  void on_timer(uint32_t id, Picos now) override;
  uint32_t timer_host(uint32_t id) const override { return flows_[id].spec.src; }  // timers are per flow

  const StackStats& stats() const override { return stats_; }
  size_t flow_count() const override { return flows_.size(); }
  const FlowSpec& flow(uint32_t f) const { return flows_[f].spec; }
  uint16_t flow_sport(uint32_t f) const { return flows_[f].sport; }
  uint64_t flow_delivered(uint32_t f) const override { return flows_[f].received; }
  Picos flow_done(uint32_t f) const override { return flows_[f].done; }
  Picos flow_started(uint32_t f) const { return flows_[f].started; }
  std::vector<Picos> completion_times() const override;
  double offered_bits(Picos end) const override;
  uint64_t retransmits() const override { return 0; }  // no loss recovery (see above)
  size_t memory_bytes() const;

 private:
  struct Flow {
    FlowSpec spec;
    std::unique_ptr<cc::Controller> cc;
    uint64_t sent = 0;
    uint64_t received = 0;
    Picos next_send = 0;
    Picos last_send = kNeverPs;  // when the previous data packet left (re-pacing after a rate change)
    uint32_t last_wire = 0;      // its wire bytes
    Picos started = kNeverPs;
    Picos done = kNeverPs;
    Picos timer_ps = kNeverPs;  // when the armed cc timer event fires
    uint32_t psn = 0;
    uint16_t sport = 0;      // the flow's fixed UDP source port
    uint16_t spray_idx = 0;  // next entropy when the host sprays (EmuConfig::spray_paths)
    uint16_t cover_count = 0;  // with EmuConfig::spray_cover: its entropies, cover_ports_[cover_first...]
    uint32_t cover_first = 0;
    bool active = false;  // in its host's send heap
  };
  bool sending_done(const Flow& f) const { return f.spec.bytes != kUnlimited && f.sent >= f.spec.bytes; }
  void activate(uint32_t f, Picos at);
  void arm_timer(uint32_t f, Picos now);
  void repace(uint32_t f, Picos now);
  void heap_push(uint32_t host, uint32_t f);
  void heap_pop(uint32_t host);
  bool heap_less(uint32_t a, uint32_t b) const;

  const topo::FatTree& tree_;
  EmuConfig cfg_;
  std::vector<Flow> flows_;
  std::vector<uint16_t> cover_ports_;  // every flow's path-covering entropies (EmuConfig::spray_cover)
  std::vector<std::vector<uint32_t>> send_heap_;  // per host: active flows, min next_send on top
  std::vector<std::vector<Packet>> control_;      // per host: CNPs waiting for the NIC
  std::vector<std::vector<uint32_t>> dependents_; // per flow with dependents: flows started by its completion
  ControllerFactory make_cc_;
  cc::CnpGenerator np_;
  bool cnp_enabled_;
  HostServices* svc_ = nullptr;
  StackStats stats_;
};

}  // namespace rfab::emu
