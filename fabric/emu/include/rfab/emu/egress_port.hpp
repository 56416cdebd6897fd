// Egress ports and the links behind them: each port has a data FIFO (paused as a whole by PFC) and a
// strict-priority control FIFO (CNPs, ACKs) that is never paused, and a transmitter that serialises one
// frame at a time (frame + preamble/IFG at the link's rate) and delivers it to the peer port one link
// latency later. Queues are intrusive lists through Packet::next in the fabric's PacketPool.
//
// The hot operations are inline: the fabric calls them several times per event.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/fabric_event.hpp"
#include "rfab/emu/ingress_account.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/emu/partition.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct EgressPort {
  static constexpr uint32_t kNil = PacketPool::kNil;
  uint32_t peer = topo::kNone;          // the port at the other end of the link
  uint32_t head = kNil, tail = kNil;    // data FIFO (PFC-paused as a whole)
  uint32_t chead = kNil, ctail = kNil;  // control FIFO (CNP/ACK): strict priority, never paused
  uint64_t queued = 0;                  // frame bytes waiting in the data FIFO
  uint64_t max_queued = 0;
  uint64_t tx_bytes = 0;
  IngressAccount ingress;  // this port as an ingress of its switch (SharedBuffer's)
  uint32_t pauses = 0;     // XOFFs received
  bool host_link = false;  // runs at the host rate (a NIC or a leaf's host-facing port)
  bool busy = false;       // serialising a frame
  bool paused = false;     // the peer told us XOFF
  bool down = false;       // the link is failed (EmuConfig::failed_ports): nothing is routed onto it
};
static_assert(sizeof(EgressPort) == 64, "one cache line's worth per port");

class EgressPorts {
 public:
  static constexpr uint32_t kNil = PacketPool::kNil;

  // One port per topology port. Packets live in `pool`; transmissions are scheduled on `events`.
  EgressPorts(const topo::FatTree& tree, const EmuConfig& config, PacketPool& pool, EventQueue& events);

  EgressPort& operator[](uint32_t port) { return ports_[port]; }
  const EgressPort& operator[](uint32_t port) const { return ports_[port]; }
  Picos latency() const { return latency_; }
  // Part of a partitioned fabric: frames for ports of other parts go to `part`'s outbox, not the queue.
  void set_partition(Partition* part) { part_ = part; }
  size_t memory_bytes() const { return ports_.capacity() * sizeof(EgressPort); }

  // Serialisation time of a frame on the port's link, preamble and inter-frame gap included.
  Picos serialization_ps(const EgressPort& port, uint32_t frame) const {
    double ppb = port.host_link ? ps_per_byte_host_ : ps_per_byte_link_;
    return Picos(std::llround(double(frame + framing_bytes_) * ppb));
  }

  // Appends a data packet to the port's FIFO; returns the queue depth it leaves (bytes).
  uint64_t push_data(uint32_t port_id, uint32_t pkt) {
    EgressPort& o = ports_[port_id];
    Packet& p = pool_[pkt];
    p.next = kNil;
    if (o.tail == kNil)
      o.head = pkt;
    else
      pool_[o.tail].next = pkt;
    o.tail = pkt;
    o.queued += p.frame;
    if (o.queued > o.max_queued) o.max_queued = o.queued;
    return o.queued;
  }

  void push_control(uint32_t port_id, uint32_t pkt) {
    EgressPort& o = ports_[port_id];
    pool_[pkt].next = kNil;
    if (o.ctail == kNil)
      o.chead = pkt;
    else
      pool_[o.ctail].next = pkt;
    o.ctail = pkt;
  }

  // Takes the next frame the port may send: control first, then data unless paused; kNil if none.
  uint32_t pop_next(uint32_t port_id) {
    EgressPort& port = ports_[port_id];
    uint32_t pkt;
    if (port.chead != kNil) {
      pkt = port.chead;
      port.chead = pool_[pkt].next;
      if (port.chead == kNil) port.ctail = kNil;
    } else if (port.head != kNil && !port.paused) {
      pkt = port.head;
      port.head = pool_[pkt].next;
      if (port.head == kNil) port.tail = kNil;
      port.queued -= pool_[pkt].frame;
    } else {
      return kNil;
    }
    return pkt;
  }

  // Starts serialising `pkt` at `now`: the transmitter is busy until kTxDone, and the packet reaches the
  // peer port (kArrive) one link latency after its last bit left.
  void transmit(uint32_t port_id, uint32_t pkt, Picos now) {
    EgressPort& port = ports_[port_id];
    port.busy = true;
    const uint32_t frame = pool_[pkt].frame;
    Picos ser = serialization_ps(port, frame);
    port.tx_bytes += frame;
    events_.push(now + ser, kTxDone, port_id, 0);
    const Picos arrive = now + ser + latency_;
    if (part_ && !part_->owns_port(port.peer)) {
      // The frame leaves this part: it travels by value, and its slot here is free once it is on the wire.
      const uint16_t seq = events_.next_seq(kArrive, port.peer);
      part_->send(EventQueue::make_event(arrive, kArrive, port.peer, 0, seq), pool_[pkt]);
      pool_.release(pkt);
      return;
    }
    events_.push(arrive, kArrive, port.peer, pkt);
  }

  // Sends a PFC pause (XOFF) or resume (XON) out of `port_id` to its peer: a 64-byte frame that bypasses
  // the queues, taking one frame time plus the link latency.
  void signal_pfc(uint32_t port_id, bool pause, Picos now) {
    const EgressPort& port = ports_[port_id];
    const Picos arrive = now + latency_ + serialization_ps(port, 64);
    const uint32_t arg = pause ? 1 : 0;
    if (part_ && !part_->owns_port(port.peer))
      part_->send(EventQueue::make_event(arrive, kPfc, port.peer, arg, events_.next_seq(kPfc, port.peer)),
                  Packet{});
    else
      events_.push(arrive, kPfc, port.peer, arg);
  }

 private:
  std::vector<EgressPort> ports_;
  PacketPool& pool_;
  EventQueue& events_;
  Partition* part_ = nullptr;  // null: the whole fabric is here
  Picos latency_ = 0;
  double ps_per_byte_host_ = 0, ps_per_byte_link_ = 0;
  uint32_t framing_bytes_ = 0;
};

}  // namespace rfab::emu
