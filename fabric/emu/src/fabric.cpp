#include "rfab/emu/fabric.hpp"

#include <cmath>

namespace rfab::emu {

using topo::NodeId;
using topo::Tier;

Fabric::Fabric(const topo::FatTree& tree, const EmuConfig& config, HostStack& stack)
    : tree_(tree), cfg_(config), stack_(stack) {
  ports_.resize(tree_.ports());
  for (uint32_t p = 0; p < tree_.ports(); ++p) {
    ports_[p].peer = tree_.peer(p);
    ports_[p].host_link = tree_.port_bps(p) == tree_.host_bps();
  }
  buffer_used_.assign(tree_.switches(), 0);
  host_wake_.assign(tree_.hosts(), kNeverPs);
  if (cfg_.ar_quantum_bytes == 0) cfg_.ar_quantum_bytes = 1;
  if (cfg_.routing == Routing::flowlet) {
    if (cfg_.flowlet_table == 0) cfg_.flowlet_table = 1;
    flowlets_.resize(size_t(tree_.switches()) * cfg_.flowlet_table);
  }
  latency_ = tree_.latency_ps();
  ps_per_byte_host_ = 8e12 / tree_.host_bps();
  ps_per_byte_link_ = 8e12 / tree_.link_bps();
  headroom_ = cfg_.pfc.headroom_bytes;
  if (headroom_ == 0) {
    // What can still arrive after we decide to pause: the pause frame's flight plus the data already on the
    // wire back toward us (2 x bandwidth-delay), one frame finishing upstream and one being received.
    double bdp = double(latency_) / 1e12 * std::max(tree_.host_bps(), tree_.link_bps()) / 8.0;
    headroom_ = uint64_t(2 * bdp) + 2ull * (cfg_.data_frame_bytes(cfg_.mtu) + cfg_.framing_bytes) + 84;
  }
  reserved_.assign(tree_.switches(), 0);
  if (cfg_.pfc.enabled) {
    for (uint32_t sw = 0; sw < tree_.switches(); ++sw) {
      uint64_t need = uint64_t{tree_.port_count(tree_.hosts() + sw)} * (headroom_ + cfg_.pfc.xoff_min_bytes);
      if (need > cfg_.switch_buffer_bytes)
        throw topo::TopologyError("emulator: switch buffer " + std::to_string(cfg_.switch_buffer_bytes) +
                                  " B cannot hold PFC headroom + minimum XOFF for " +
                                  std::to_string(tree_.port_count(tree_.hosts() + sw)) + " ports (" +
                                  std::to_string(need) + " B needed)");
      reserved_[sw] = uint64_t{tree_.port_count(tree_.hosts() + sw)} * headroom_;
    }
  }
  rng_state_ = cfg_.seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  stack_.attach(*this);
}

size_t Fabric::memory_bytes() const {
  return ports_.capacity() * sizeof(Port) + buffer_used_.capacity() * 8 + host_wake_.capacity() * 8 +
         flowlets_.capacity() * sizeof(Flowlet) + pool_.capacity() * sizeof(Packet) +
         reserved_.capacity() * 8 + q_.memory_bytes();
}

uint64_t Fabric::rng() {
  // xorshift64*: deterministic per seed, cheap enough to draw per marked-candidate packet.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 0x2545F4914F6CDD1Dull;
}

Picos Fabric::ser_ps(const Port& port, uint32_t frame) const {
  double ppb = port.host_link ? ps_per_byte_host_ : ps_per_byte_link_;
  return Picos(std::llround(double(frame + cfg_.framing_bytes) * ppb));
}

void Fabric::wake(uint32_t host, Picos at) {
  if (at < now_) at = now_;
  if (host_wake_[host] <= at) return;  // an earlier wake is already pending
  host_wake_[host] = at;
  q_.push(at, kHostWake, host, 0);
}

void Fabric::timer(uint32_t id, Picos at) { q_.push(at < now_ ? now_ : at, kTimer, id, 0); }

void Fabric::run_until(Picos until) {
  uint64_t next_progress = stats_.events | 0x3FFFF;
  while (!q_.empty()) {
    if (q_.peek_time() > until) break;
    Event e = q_.pop();
    // Packets sit in a pool far larger than the caches at scale; start fetching the next event's packet
    // now so its miss overlaps with this event's work.
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
  Port& port = ports_[host];
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
  transmit(host, i);
}

void Fabric::transmit(uint32_t port_id, uint32_t pkt) {
  Port& port = ports_[port_id];
  port.busy = true;
  const uint32_t frame = pool_[pkt].frame;
  Picos ser = ser_ps(port, frame);
  port.tx_bytes += frame;
  q_.push(now_ + ser, kTxDone, port_id, 0);
  q_.push(now_ + ser + latency_, kArrive, port.peer, pkt);
}

void Fabric::start_tx(uint32_t port_id) {
  Port& port = ports_[port_id];
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
    return;
  }
  release_ingress(pkt);
  transmit(port_id, pkt);
}

void Fabric::on_tx_done(uint32_t port_id) {
  Port& port = ports_[port_id];
  port.busy = false;
  if (port_id < tree_.hosts())
    try_pull(port_id);
  else
    start_tx(port_id);
}

void Fabric::release_ingress(uint32_t pkt) {
  // The packet leaves this switch's buffer: return its bytes to the shared pool and to its ingress account.
  Packet& p = pool_[pkt];
  if (p.ingress == topo::kNone) return;
  Port& in = ports_[p.ingress];
  const uint32_t frame = p.frame;
  in.ingress -= frame;
  const uint32_t sw = tree_.owner(p.ingress) - tree_.hosts();
  buffer_used_[sw] -= frame;
  uint64_t xoff = xoff_threshold(sw);
  if (in.xoff_sent && in.ingress + cfg_.pfc.hysteresis_bytes <= xoff) {
    in.xoff_sent = false;
    ++stats_.pfc_resumes;
    q_.push(now_ + latency_ + ser_ps(in, 64), kPfc, in.peer, 0);
  }
  p.ingress = topo::kNone;
}

void Fabric::on_pfc(uint32_t port_id, bool pause) {
  Port& port = ports_[port_id];
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
    stack_.deliver(node, now_, pool_[pkt]);
    pool_.release(pkt);
    return;
  }
  forward(node, port_id, pkt);
}

bool Fabric::wred_mark(uint64_t queued) {
  const EcnConfig& e = cfg_.ecn;
  if (!e.enabled || queued <= e.kmin_bytes) return false;
  if (queued >= e.kmax_bytes) return true;
  double prob = e.pmax * double(queued - e.kmin_bytes) / double(e.kmax_bytes - e.kmin_bytes);
  return double(rng() >> 11) * 0x1.0p-53 < prob;
}

uint64_t Fabric::xoff_threshold(uint32_t sw) const {
  uint64_t cap = cfg_.switch_buffer_bytes - reserved_[sw];
  uint64_t used = buffer_used_[sw];
  uint64_t free = used < cap ? cap - used : 0;
  return std::max(cfg_.pfc.xoff_min_bytes, uint64_t(cfg_.pfc.alpha * double(free)));
}

bool Fabric::admit(uint32_t sw, uint32_t in_port, uint32_t out_port, uint32_t frame) {
  const uint64_t used = buffer_used_[sw];
  if (used + frame > cfg_.switch_buffer_bytes) return false;
  if (cfg_.pfc.enabled) {
    // Lossless: the buffer check above is the only limit; the per-port headroom reserve guarantees room for
    // what arrives after XOFF, so a drop here means the headroom was undersized.
    (void)in_port;
    return true;
  }
  // Lossy: dynamic threshold, an egress queue may hold alpha x the free shared buffer.
  double limit = cfg_.dt_alpha * double(cfg_.switch_buffer_bytes - used);
  return double(ports_[out_port].queued + frame) <= limit;
}

void Fabric::forward(NodeId node, uint32_t in_port, uint32_t pkt) {
  Packet& p = pool_[pkt];
  topo::Route r = tree_.route(node, p.dst);
  uint32_t local = r.count == 1 ? r.first : choose_up(node, r, p);
  uint32_t out = tree_.port(node, local);
  const uint32_t sw = node - tree_.hosts();
  Port& o = ports_[out];
  if (p.kind != PacketKind::data) {
    // Control frames ride a strict-priority class with its own small reserve: never paused, never dropped.
    p.ingress = topo::kNone;
    p.next = kNil;
    if (o.ctail == kNil) o.chead = pkt; else pool_[o.ctail].next = pkt;
    o.ctail = pkt;
    if (!o.busy) start_tx(out);
    return;
  }
  if (!admit(sw, in_port, out, p.frame)) {
    ++stats_.drops;
    stack_.on_drop(p);
    pool_.release(pkt);
    return;
  }
  Port& in = ports_[in_port];
  in.ingress += p.frame;
  buffer_used_[sw] += p.frame;
  p.ingress = in_port;
  if (cfg_.pfc.enabled && !in.xoff_sent && in.ingress > xoff_threshold(sw)) {
    in.xoff_sent = true;
    ++stats_.pfc_pauses;
    q_.push(now_ + latency_ + ser_ps(in, 64), kPfc, in.peer, 1);
  }
  if (!p.ce && wred_mark(o.queued)) {
    p.ce = true;
    ++stats_.ecn_marks;
  }
  p.next = kNil;
  if (o.tail == kNil) o.head = pkt; else pool_[o.tail].next = pkt;
  o.tail = pkt;
  o.queued += p.frame;
  if (o.queued > o.max_queued) {
    o.max_queued = o.queued;
    if (o.queued > stats_.max_queue_bytes) stats_.max_queue_bytes = o.queued;
  }
  if (!o.busy) start_tx(out);
}

uint32_t Fabric::least_loaded(NodeId node, const topo::Route& r, uint32_t start) const {
  // Queue depth (plus one frame if the port is mid-transmission) is the load signal a switch ASIC has.
  uint32_t best = r.first + start % r.count;
  uint64_t best_load = ~uint64_t{0};
  for (uint32_t i = 0; i < r.count; ++i) {
    uint32_t local = r.first + (start + i) % r.count;
    const Port& p = ports_[tree_.port(node, local)];
    // Quantized like an ASIC's congestion levels: ports within one quantum tie, and ties rotate per packet,
    // so a flow still sprays evenly when the local queues are about equal (what keeps the downward hops,
    // which a local decision cannot see, balanced).
    uint64_t load = p.queued / cfg_.ar_quantum_bytes + (p.paused ? (uint64_t{1} << 40) : 0);
    if (load < best_load) {
      best_load = load;
      best = local;
    }
  }
  return best;
}

uint32_t Fabric::choose_up(NodeId node, const topo::Route& r, const Packet& p) {
  topo::FlowKey key{tree_.host_ip(p.src), tree_.host_ip(p.dst), p.sport, 4791, 17};
  uint32_t h = topo::ecmp_hash(key, node);
  switch (cfg_.routing) {
    case Routing::ecmp: return r.first + h % r.count;
    case Routing::ar: {
      // Tie-break rotation must be independent per hop: with h + psn, the packets of a flow reaching one
      // aggregation switch all share psn mod (up-ports) and would all pick the same core.
      uint64_t x = ((uint64_t{h} << 32) | p.psn) * 0x9E3779B97F4A7C15ull;
      return least_loaded(node, r, uint32_t(x >> 40));
    }
    case Routing::flowlet: {
      Flowlet& f = flowlets_[size_t(node - tree_.hosts()) * cfg_.flowlet_table + h % cfg_.flowlet_table];
      if (f.port == ~0u || now_ - f.last > cfg_.flowlet_gap_ps || f.port < r.first || f.port >= r.first + r.count)
        f.port = least_loaded(node, r, h);
      f.last = now_;
      return f.port;
    }
  }
  return r.first;
}

}  // namespace rfab::emu
