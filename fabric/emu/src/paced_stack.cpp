#include "rfab/emu/paced_stack.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "rfab/emu/flow_entropy.hpp"
#include "rfab/emu/flow_list.hpp"
#include "rfab/emu/spray_cover.hpp"

namespace rfab::emu {

PacedFlowStack::PacedFlowStack(const topo::FatTree& tree, const EmuConfig& config, std::vector<FlowSpec> specs,
                               ControllerFactory make_cc, Nanos cnp_interval_ns)
    : tree_(tree),
      cfg_(config),
      make_cc_(std::move(make_cc)),
      np_(cnp_interval_ns),
      cnp_enabled_(cnp_interval_ns > 0) {
  if (cfg_.mtu == 0 || cfg_.mtu > 65535) throw TrafficError("emulator: mtu must be 1..65535 bytes");
  if (cfg_.spray_paths > kMaxSprayPaths)
    throw std::invalid_argument("emulator: spray over " + std::to_string(cfg_.spray_paths) +
                                " paths; at most " + std::to_string(kMaxSprayPaths));
  check_flows(specs, tree_.hosts());
  flows_.resize(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    flows_[i].spec = specs[i];
    flows_[i].sport = flow_entropy(uint32_t(i), cfg_.seed);  // the QP's port, as the flow engine's
    if (cfg_.spray_cover && cfg_.spray_paths > 1) {
      const std::vector<uint16_t> ports =
          covering_ports(tree_, specs[i].src, specs[i].dst, flows_[i].sport, cfg_.spray_paths);
      flows_[i].cover_first = uint32_t(cover_ports_.size());
      flows_[i].cover_count = uint16_t(ports.size());
      cover_ports_.insert(cover_ports_.end(), ports.begin(), ports.end());
    }
  }
  send_heap_.resize(tree_.hosts());
  control_.resize(tree_.hosts());
  dependents_ = flow_dependents(specs);
}

size_t PacedFlowStack::memory_bytes() const {
  size_t b = flows_.capacity() * sizeof(Flow) + cover_ports_.capacity() * 2 + send_heap_.capacity() * sizeof(send_heap_[0]) +
             control_.capacity() * sizeof(control_[0]);
  for (const auto& h : send_heap_) b += h.capacity() * 4;
  return b;
}

void PacedFlowStack::attach(HostServices& services) {
  svc_ = &services;
  for (uint32_t i = 0; i < flows_.size(); ++i)
    if (flows_[i].spec.after == kNoFlow) activate(i, flows_[i].spec.start);
}

void PacedFlowStack::activate(uint32_t id, Picos at) {
  Flow& f = flows_[id];
  f.cc = make_cc_(tree_.host_bps());
  f.next_send = at;
  f.started = at;
  f.active = true;
  heap_push(f.spec.src, id);
  svc_->wake(f.spec.src, at);
  arm_timer(id, at);
}

void PacedFlowStack::arm_timer(uint32_t id, Picos now) {
  Flow& f = flows_[id];
  if (sending_done(f)) return;  // DCQCN timers only matter while the flow still sends
  Nanos t = f.cc->next_timer();
  if (t == kNever) return;
  Picos at = std::max<Picos>(Picos(t) * 1000, now);
  if (at == f.timer_ps) return;
  f.timer_ps = at;
  svc_->timer(id, at);
}

bool PacedFlowStack::heap_less(uint32_t a, uint32_t b) const {
  const Flow &x = flows_[a], &y = flows_[b];
  return x.next_send != y.next_send ? x.next_send < y.next_send : a < b;
}

void PacedFlowStack::heap_push(uint32_t host, uint32_t id) {
  auto& h = send_heap_[host];
  h.push_back(id);
  std::push_heap(h.begin(), h.end(), [this](uint32_t a, uint32_t b) { return heap_less(b, a); });
}

void PacedFlowStack::heap_pop(uint32_t host) {
  auto& h = send_heap_[host];
  std::pop_heap(h.begin(), h.end(), [this](uint32_t a, uint32_t b) { return heap_less(b, a); });
  h.pop_back();
}

bool PacedFlowStack::pull(uint32_t host, Picos now, Packet& out) {
  auto& ctl = control_[host];
  if (!ctl.empty()) {
    out = ctl.front();
    ctl.erase(ctl.begin());
    return true;
  }
  auto& heap = send_heap_[host];
  if (heap.empty()) return false;
  uint32_t id = heap.front();
  Flow& f = flows_[id];
  if (f.next_send > now) {
    svc_->wake(host, f.next_send);
    return false;
  }
  uint64_t left = f.spec.bytes == kUnlimited ? cfg_.mtu : f.spec.bytes - f.sent;
  uint32_t payload = uint32_t(std::min<uint64_t>(cfg_.mtu, left));
  out.kind = PacketKind::data;
  out.flow = id;
  out.psn = f.psn++ & 0xFFFFFFu;  // 24-bit PSN space, as on the wire
  out.dst = f.spec.dst;
  out.sport = f.sport;
  if (f.cover_count) {
    out.sport = cover_ports_[f.cover_first + f.spray_idx];
    if (++f.spray_idx == f.cover_count) f.spray_idx = 0;
  } else if (cfg_.spray_paths > 1) {
    out.sport = spray_port(f.sport, f.spray_idx);
    if (++f.spray_idx == cfg_.spray_paths) f.spray_idx = 0;
  }
  out.payload = uint16_t(payload);
  out.frame = cfg_.data_frame_bytes(payload);
  f.sent += payload;
  out.last = sending_done(f);
  stats_.payload_sent += payload;
  const Nanos now_ns = now / 1000;
  f.cc->on_send(now_ns, payload);
  double rate = f.cc->rate_bps(now_ns);
  f.last_wire = out.frame + cfg_.framing_bytes;
  f.last_send = std::max(f.next_send, now);
  f.next_send = f.last_send + Picos(std::llround(double(f.last_wire) * 8e12 / rate));
  heap_pop(host);
  if (!sending_done(f))
    heap_push(host, id);
  else
    f.active = false;
  arm_timer(id, now);
  return true;
}

void PacedFlowStack::deliver(uint32_t host, Picos now, const Packet& p) {
  Flow& f = flows_[p.flow];
  const Nanos now_ns = now / 1000;
  if (p.kind == PacketKind::cnp) {
    ++stats_.cnps_received;
    f.cc->on_cnp(now_ns);
    repace(p.flow, now);
    arm_timer(p.flow, now);
    return;
  }
  if (p.kind != PacketKind::data) return;
  f.received += p.payload;
  stats_.payload_delivered += p.payload;
  if (p.ce && cnp_enabled_ && np_.on_ce(now_ns, p.flow)) {
    Packet cnp;
    cnp.kind = PacketKind::cnp;
    cnp.flow = p.flow;
    cnp.dst = f.spec.src;
    cnp.sport = f.sport;
    cnp.frame = kCnpFrameBytes;
    control_[host].push_back(cnp);
    ++stats_.cnps_sent;
    svc_->wake(host, now);
  }
  if (f.spec.bytes != kUnlimited && f.done == kNeverPs && f.received >= f.spec.bytes) {
    f.done = now;
    ++stats_.flows_completed;
    if (!dependents_.empty())
      for (uint32_t d : dependents_[p.flow]) activate(d, now + flows_[d].spec.start);
  }
}

void PacedFlowStack::on_timer(uint32_t id, Picos now) {
  Flow& f = flows_[id];
  if (f.timer_ps != now) return;  // superseded
  f.timer_ps = kNeverPs;
  f.cc->on_timer(now / 1000);
  repace(id, now);
  arm_timer(id, now);
}

void PacedFlowStack::repace(uint32_t id, Picos now) {
  // A NIC's rate limiter applies a new rate to the gap after the last packet, not from the next one on: a
  // packet paced at a low rate must not hold the flow back once the rate rises again (or vice versa).
  Flow& f = flows_[id];
  if (!f.active || f.last_send == kNeverPs) return;
  double rate = f.cc->rate_bps(now / 1000);
  Picos next = f.last_send + Picos(std::llround(double(f.last_wire) * 8e12 / rate));
  if (next == f.next_send) return;
  f.next_send = next;
  auto& h = send_heap_[f.spec.src];
  std::make_heap(h.begin(), h.end(), [this](uint32_t a, uint32_t b) { return heap_less(b, a); });
  svc_->wake(f.spec.src, next);
}

std::vector<Picos> PacedFlowStack::completion_times() const { return emu::completion_times(flows_); }

double PacedFlowStack::offered_bits(Picos end) const {
  return emu::offered_bits(flows_, tree_.hosts(), tree_.host_bps(), end);
}

}  // namespace rfab::emu
