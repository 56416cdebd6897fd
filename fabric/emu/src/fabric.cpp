#include "rfab/emu/fabric.hpp"

#include <stdexcept>
#include <string>

#include "rfab/emu/fabric_event.hpp"

namespace rfab::emu {

using topo::NodeId;

Fabric::Fabric(const topo::FatTree& tree, const EmuConfig& config, HostStack& stack, Partition* part)
    : tree_(tree),
      cfg_(config),
      stack_(stack),
      q_(kCountedFabricEvents),
      ports_(tree_, cfg_, pool_, q_),
      buffer_(tree_, cfg_),
      ecn_(cfg_.ecn, cfg_.seed, tree_.switches()),
      router_(tree_, ports_, cfg_),
      part_(part) {
  ports_.set_partition(part_);
  host_wake_.assign(tree_.hosts(), kNeverPs);
  for (uint32_t p : cfg_.failed_ports) ports_[p].down = true;
  stack_.attach(*this);
}

size_t Fabric::memory_bytes() const {
  return ports_.memory_bytes() + buffer_.memory_bytes() + router_.memory_bytes() + host_wake_.capacity() * 8 +
         pool_.capacity() * sizeof(Packet) + q_.memory_bytes() + ecn_.memory_bytes();
}

void Fabric::enable_counters(size_t flows) {
  counters_.ports.assign(tree_.ports(), PortCounters{});
  counters_.flows.assign(flows, FlowCounters{});
}

void Fabric::count_tx(uint32_t port, const Packet& p) {
  PortCounters& c = counters_.ports[port];
  ++c.packets;
  c.bytes += p.frame;
  if (port >= tree_.hosts() || p.kind != PacketKind::data) return;
  if (FlowCounters* f = flow_counters(p)) {
    if (!f->seen) *f = FlowCounters{p.src, p.dst, true};
    ++f->packets_sent;
    f->bytes_sent += p.frame;
  }
}

void Fabric::count_delivery(uint32_t host, const Packet& p) {
  ++counters_.ports[host].rx_packets;
  counters_.ports[host].rx_bytes += p.frame;
  FlowCounters* f = flow_counters(p);
  if (!f) return;
  if (p.kind == PacketKind::cnp) {
    ++f->cnps_delivered;
  } else if (p.kind == PacketKind::data) {
    ++f->packets_delivered;
    f->bytes_delivered += p.frame;
    if (p.ce) ++f->ce_delivered;
  }
}

void Fabric::wake(uint32_t host, Picos at) {
  if (part_ && !part_->owns_host(host)) return;  // the host's own part runs it
  if (at < now_) at = now_;
  if (host_wake_[host] <= at) return;  // an earlier wake is already pending
  host_wake_[host] = at;
  q_.push(at, kHostWake, host, 0);
}

void Fabric::timer(uint32_t id, Picos at) {
  if (part_) {
    const uint32_t host = stack_.timer_host(id);
    if (host == HostStack::kNoHost) throw std::logic_error("emulator: a partitioned fabric needs a stack that names its timers' hosts");
    if (!part_->owns_host(host)) return;
  }
  q_.push(at < now_ ? now_ : at, kTimer, id, 0);
}

void Fabric::inject(const RemoteEvent& r) {
  // Checked in every build: an event in this part's past would be run late (or clamped), silently.
  if (r.event.time <= now_)
    throw std::logic_error("emulator: another part's event for " + std::to_string(r.event.time) +
                           " ps arrived at " + std::to_string(now_) + " ps, inside a window already run");
  Event e = r.event;
  if (e.kind == kArrive) {
    e.arg = pool_.alloc();
    pool_[e.arg] = r.packet;
  }
  q_.push_tagged(e);
}

void Fabric::run_until(Picos until) {
  uint64_t next_progress = stats_.events | 0x3FFFF;
  Event e;
  // pop_until, not peek-then-pop: the queue's cursor must not pass `until`, or a partitioned run could not
  // inject other parts' frames for the times just after it (Fabric::inject).
  while (q_.pop_until(until, e)) {
    // Packets sit in a pool far larger than the caches at scale; start fetching what the next event
    // touches now so its misses overlap with this event's work.
    if (const Event* n = q_.glance()) {
      if (n->kind == kArrive) __builtin_prefetch(&pool_[n->arg]);
      if (n->kind <= kPfc) __builtin_prefetch(&ports_[n->target]);
    }
    now_ = e.time;
    ++stats_.events;
    dispatch(e);
    if (stats_.events >= next_progress) {
      next_progress = stats_.events + 0x40000;
      if (progress_) progress_(now_);
    }
  }
  if (until != kNeverPs && now_ < until) now_ = until;
}

void Fabric::dispatch(const Event& e) {
  switch (e.kind) {
    case kTxDone: on_tx_done(e.target); break;
    case kArrive: on_arrive(e.target, e.arg); break;
    case kPfc: on_pfc(e.target, e.arg != 0); break;
    case kHostWake:
      if (host_wake_[e.target] != e.time) break;  // superseded by an earlier wake
      host_wake_[e.target] = kNeverPs;
      try_pull(e.target);
      break;
    case kTimer: stack_.on_timer(e.target, now_); break;
  }
}

void Fabric::try_pull(uint32_t host) {
  const EgressPort& port = ports_[host];
  if (port.busy || port.paused) return;  // TxDone / XON will pull again
  uint32_t i = pool_.alloc();
  Packet& p = pool_[i];
  p = Packet{};
  if (!stack_.pull(host, now_, p)) {
    pool_.release(i);
    return;
  }
  p.src = host;
  if (p.frame == 0) p.frame = cfg_.data_frame_bytes(p.payload);
  ++stats_.packets_sent;
  if (counters_.enabled()) count_tx(host, p);
  ports_.transmit(host, i, now_);
}

void Fabric::start_tx(uint32_t port_id) {
  uint32_t pkt = ports_.pop_next(port_id);
  if (pkt == PacketPool::kNil) return;
  release_ingress(pkt);
  if (counters_.enabled()) count_tx(port_id, pool_[pkt]);
  ports_.transmit(port_id, pkt, now_);
}

void Fabric::on_tx_done(uint32_t port_id) {
  ports_[port_id].busy = false;
  if (port_id < tree_.hosts())
    try_pull(port_id);
  else
    start_tx(port_id);
}

void Fabric::release_ingress(uint32_t pkt) {
  // The packet leaves this switch: return its bytes to the shared buffer and its ingress account, and
  // resume the upstream port if that account had paused it.
  Packet& p = pool_[pkt];
  if (p.ingress == topo::kNone) return;
  if (buffer_.release(switch_index(tree_.owner(p.ingress)), ports_[p.ingress].ingress, p.frame)) {
    ++stats_.pfc_resumes;
    ports_.signal_pfc(p.ingress, false, now_);
  }
  p.ingress = topo::kNone;
}

void Fabric::on_pfc(uint32_t port_id, bool pause) {
  EgressPort& port = ports_[port_id];
  port.paused = pause;
  if (pause) {
    ++port.pauses;
    return;
  }
  if (port.busy) return;
  if (port_id < tree_.hosts())
    try_pull(port_id);
  else
    start_tx(port_id);
}

void Fabric::on_arrive(uint32_t port_id, uint32_t pkt) {
  NodeId node = tree_.owner(port_id);
  if (node < tree_.hosts()) {
    ++stats_.packets_delivered;
    if (counters_.enabled()) count_delivery(node, pool_[pkt]);
    stack_.deliver(node, now_, pool_[pkt]);
    pool_.release(pkt);
    return;
  }
  forward(node, port_id, pkt);
}

void Fabric::forward(NodeId node, uint32_t in_port, uint32_t pkt) {
  Packet& p = pool_[pkt];
  const uint32_t local = router_.next_hop(node, tree_.route(node, p.dst), p, now_);
  if (local == Router::kNoRoute) {  // failed links cut every way to the destination
    ++stats_.drops;
    ++stats_.unroutable;
    if (p.kind == PacketKind::data) stack_.on_drop(p);
    pool_.release(pkt);
    return;
  }
  const uint32_t out = tree_.port(node, local);
  if (p.kind != PacketKind::data) {
    // Control frames ride a strict-priority class with its own small reserve: never paused, never dropped.
    p.ingress = topo::kNone;
    ports_.push_control(out, pkt);
    if (!ports_[out].busy) start_tx(out);
    return;
  }
  const uint32_t sw = switch_index(node);
  if (!buffer_.admit(sw, ports_[out].queued, p.frame)) {
    ++stats_.drops;
    if (counters_.enabled()) {
      ++counters_.ports[out].drops;
      if (FlowCounters* f = flow_counters(p)) ++f->drops;
    }
    stack_.on_drop(p);
    pool_.release(pkt);
    return;
  }
  p.ingress = in_port;
  if (buffer_.charge(sw, ports_[in_port].ingress, p.frame)) {
    ++stats_.pfc_pauses;
    if (counters_.enabled()) ++counters_.ports[ports_[in_port].peer].pfc_pauses;
    ports_.signal_pfc(in_port, true, now_);
  }
  if (!p.ce && ecn_.mark(ports_[out].queued, sw)) {
    p.ce = true;
    ++stats_.ecn_marks;
    if (counters_.enabled()) ++counters_.ports[out].ecn_marks;
  }
  const uint64_t depth = ports_.push_data(out, pkt);
  if (depth > stats_.max_queue_bytes) stats_.max_queue_bytes = depth;
  if (!ports_[out].busy) start_tx(out);
}

}  // namespace rfab::emu
