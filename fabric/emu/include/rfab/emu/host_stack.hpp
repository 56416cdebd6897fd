// The seam between the fabric and what runs on the hosts. The fabric owns the NICs' egress ports and the
// clock; a HostStack decides what each host sends next and consumes what arrives. It is sans-IO in the same
// sense as rc/: it never schedules anything itself except through HostServices.
//
// Two stacks plug in here: PacedFlowStack (flows segmented into MTU packets with PSNs, paced by a
// cc::Controller) and, when present, an adapter running the rc/ queue-pair engine.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/packet.hpp"

namespace rfab::emu {

// What a stack may ask of the emulator.
class HostServices {
 public:
  virtual ~HostServices() = default;
  // Ask the fabric to call HostStack::pull for `host` at `at` (or as soon as its NIC is free after that).
  virtual void wake(uint32_t host, Picos at) = 0;
  // Call HostStack::on_timer(id) at `at`.
  virtual void timer(uint32_t id, Picos at) = 0;
};

class HostStack {
 public:
  virtual ~HostStack() = default;
  virtual void attach(HostServices& services) = 0;
  // `host`'s NIC is idle and not paused: fill `out` with the next packet and return true, or return false
  // (the stack calls HostServices::wake when it has something later).
  virtual bool pull(uint32_t host, Picos now, Packet& out) = 0;
  // A packet addressed to `host` arrived at its NIC.
  virtual void deliver(uint32_t host, Picos now, const Packet& p) = 0;
  virtual void on_timer(uint32_t id, Picos now) = 0;
  // The host whose state timer `id` acts on: a partitioned fabric (partition.hpp) runs a timer only in the
  // part that owns that host. kNoHost: the stack cannot say, and cannot run partitioned.
  static constexpr uint32_t kNoHost = ~uint32_t{0};
  virtual uint32_t timer_host(uint32_t /*id*/) const { return kNoHost; }
  // The fabric dropped a packet this stack produced (lossy buffers): release what it referred to.
  virtual void on_drop(const Packet&) {}
};

struct StackStats {
  uint64_t payload_sent = 0;
  uint64_t payload_delivered = 0;  // distinct payload bytes accepted by receivers
  uint64_t cnps_sent = 0;
  uint64_t cnps_received = 0;
  uint64_t flows_completed = 0;
};

// A stack that runs a list of flows (traffic.hpp) and reports on them: what the scenario runner and the
// validation tests read, whichever transport runs underneath.
class FlowStack : public HostStack {
 public:
  virtual const StackStats& stats() const = 0;
  virtual size_t flow_count() const = 0;
  virtual uint64_t flow_delivered(uint32_t f) const = 0;
  virtual Picos flow_done(uint32_t f) const = 0;  // kNeverPs while incomplete
  // Completion times (done - start) of every completed flow, in flow order.
  virtual std::vector<Picos> completion_times() const = 0;
  // Sum over sending hosts of (line rate x time the host had a flow to send) up to `end`: the
  // denominator of effective throughput.
  virtual double offered_bits(Picos end) const = 0;
  // Packets the transport sent again to recover from loss or timeouts.
  virtual uint64_t retransmits() const = 0;
};

}  // namespace rfab::emu
