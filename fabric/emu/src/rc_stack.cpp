#include "rfab/emu/rc_stack.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "rfab/emu/flow_list.hpp"
#include "rfab/endpoint/connect.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::emu {
namespace {

// Eth 14 + IPv4 20 + UDP 8 + FCS 4 around the UDP payload (BTH..ICRC) the engine produces.
constexpr uint32_t kOuterBytes = wire::kEthLen + wire::kIpv4Len + wire::kUdpLen + 4;
static_assert(kOuterBytes == 46);

// RDMA WRITE payload bytes in a UDP payload of `len` bytes with opcode `op`: what follows the BTH and the
// opcode's extension headers (RETH, ImmDt), less the ICRC; 0 for anything that is not a WRITE. The pad bytes
// (0-3, on the last packet of a message whose length is not a multiple of 4) count as payload.
uint32_t write_payload(uint8_t op, size_t len) {
  const wire::OpcodeInfo* info = wire::opcode_info(op);
  if (info == nullptr || info->kind != wire::OpKind::write) return 0;
  const size_t hdr = wire::kBthLen + wire::ext_headers_len(info->headers) + wire::kIcrcLen;
  return len > hdr ? uint32_t(len - hdr) : 0;
}

}  // namespace

RcHostStack::RcHostStack(const topo::FatTree& tree, const EmuConfig& config, std::vector<FlowSpec> specs,
                         ControllerFactory make_cc, Nanos cnp_interval_ns)
    : tree_(tree),
      cfg_(config),
      make_cc_(std::move(make_cc)),
      multipath_(config.multipath()),
      cnp_interval_(cnp_interval_ns),
      send_cq_(1 << 20),
      recv_cq_(1 << 10),
      memory_(kChunk, 0) {
  rc::Mtu mtu;
  if (!rc::mtu_from_bytes(cfg_.mtu, mtu))
    throw std::invalid_argument("emulator: the rc host stack needs an MTU of 256, 512, 1024, 2048 or 4096");
  if (specs.size() * 2 >= (1u << 24)) throw TrafficError("traffic: too many flows for 24-bit QP numbers");
  check_flows(specs, tree_.hosts());
  if (cfg_.spray_paths > kMaxSprayPaths)
    throw std::invalid_argument("emulator: spray over " + std::to_string(cfg_.spray_paths) +
                                " paths; the rc engine sprays over at most 256");
  mr_ = pd_.reg_mr(memory_.data(), memory_.size(), rc::kLocalWrite | rc::kRemoteWrite);
  flows_.resize(specs.size());
  eps_.resize(specs.size() * 2);
  host_eps_.resize(tree_.hosts());
  cursor_.assign(tree_.hosts(), 0);
  for (uint32_t f = 0; f < specs.size(); ++f) {
    const FlowSpec& s = specs[f];
    flows_[f].spec = s;
    flows_[f].cc = make_cc_(tree_.host_bps());
    for (uint32_t side = 0; side < 2; ++side) {
      Endpoint& ep = eps_[2 * f + side];
      ep.requester = side == 0;
      ep.flow = f;
      ep.host = side == 0 ? s.src : s.dst;
      rc::QpInit init;
      init.pd = &pd_;
      init.send_cq = &send_cq_;
      init.recv_cq = &recv_cq_;
      init.qp_num = 2 * f + side + 1;
      init.cc = side == 0 ? flows_[f].cc.get() : nullptr;
      init.tuning.line_bps = tree_.host_bps();
      init.tuning.cnp_interval = cnp_interval_ ? cnp_interval_ : 50_us;  // NICs send CNPs even without DCQCN
      if (multipath_) {
        // Packets of a flow take several paths and overtake each other: the responder holds up to a
        // window of PSNs past a hole, which also bounds the requester's packets in flight.
        init.tuning.reorder_window = kReorderWindow;
        // With PFC the fabric does not drop, and the requester never has more than a window in flight, so a
        // hole is reordering unless the whole window has overtaken it; lossy fabrics use the engine's
        // default (a quarter of the window) to recover drops quickly.
        init.tuning.loss_after = cfg_.pfc.enabled ? uint16_t(kReorderWindow - 1) : 0;
      }
      ep.qp = std::make_unique<rc::QueuePair>(init);
      host_eps_[ep.host].push_back(2 * f + side);
    }
    connect(eps_[2 * f], 2 * f + 2);
    connect(eps_[2 * f + 1], 2 * f + 1);
  }
  dependents_ = flow_dependents(specs);
}

RcHostStack::~RcHostStack() = default;

void RcHostStack::connect(Endpoint& ep, uint32_t remote_qpn) {
  endpoint::ConnectParams p;
  p.remote_qpn = remote_qpn;
  p.remote_psn = 0;
  p.local_psn = 0;
  p.mtu = cfg_.mtu;
  p.access = rc::kRemoteWrite;
  p.max_dest_rd_atomic = 16;
  p.max_rd_atomic = 16;
  p.min_rnr_timer = 12;
  p.ack_timeout = 8;  // 4.096 us x 2^8 ~ 1 ms: several fabric RTTs even under PFC
  if (cfg_.spray_paths > 1) {
    // NIC-side spraying: the requester rotates its packets over spray_paths UDP source ports, so ECMP
    // switches put them on up to that many paths (every sprayed WRITE packet is a self-describing
    // WRITE_ONLY, placed on arrival).
    p.entropy.kind = cfg_.spray_adaptive ? rc::EntropyPolicy::Kind::adaptive : rc::EntropyPolicy::Kind::spray;
    p.entropy.paths = cfg_.spray_paths;
  }
  // Where a flow's packets can take several paths (switch AR or flowlets, or NIC spraying), reordering is
  // normal: selective recovery holds what arrives past a hole and resends only a packet that looks lost.
  // Go-back-N would take every reordering for a loss and resend the window. With one path per flow
  // (ECMP) packets arrive in order, and the engine keeps IBTA's go-back-N, as RNICs do.
  p.loss_recovery = multipath_ ? rc::LossRecovery::selective : rc::LossRecovery::go_back_n;
  try {
    endpoint::connect(*ep.qp, p);
  } catch (const endpoint::EndpointError& e) {
    throw std::runtime_error(std::string("emulator: rc QP setup failed: ") + e.what());
  }
}

void RcHostStack::attach(HostServices& services) {
  svc_ = &services;
  // Timer ids: endpoints first, then one start timer per flow.
  for (uint32_t f = 0; f < flows_.size(); ++f)
    if (flows_[f].spec.after == kNoFlow) svc_->timer(uint32_t(eps_.size()) + f, flows_[f].spec.start);
}

void RcHostStack::start_flow(uint32_t f, Picos now) {
  flows_[f].started = now;
  post_more(f);
  after_input(2 * f, now);
}

void RcHostStack::post_more(uint32_t f) {
  Flow& fl = flows_[f];
  for (;;) {
    const bool unlimited = fl.spec.bytes == kUnlimited;
    if (!unlimited && fl.posted >= fl.spec.bytes) return;
    if (unlimited && fl.posted - fl.completed >= kOutstanding * kChunk) return;
    if (!unlimited && fl.posted - fl.completed >= 64 * kChunk) return;  // bounded send queue
    uint64_t n = unlimited ? kChunk : std::min<uint64_t>(kChunk, fl.spec.bytes - fl.posted);
    rc::Sge sge{mr_->iova(), uint32_t(n), mr_->lkey()};
    rc::SendWr wr;
    wr.wr_id = (uint64_t{f} << 32) | uint32_t(n);
    wr.opcode = rc::WrOpcode::rdma_write;
    wr.sg_list = std::span<const rc::Sge>(&sge, 1);
    wr.rdma.remote_addr = mr_->iova();
    wr.rdma.rkey = mr_->rkey();
    if (!eps_[2 * f].qp->post_send(wr).ok()) return;  // send queue full: more after completions
    fl.posted += n;
  }
}

uint32_t RcHostStack::alloc_blob() {
  if (!free_blobs_.empty()) {
    uint32_t b = free_blobs_.back();
    free_blobs_.pop_back();
    return b;
  }
  blobs_.emplace_back(rc::kMaxPacketBytes);
  return uint32_t(blobs_.size() - 1);
}

void RcHostStack::arm(uint32_t e, Picos now) {
  Endpoint& ep = eps_[e];
  Nanos t = ep.qp->next_deadline();
  if (t == kNever) return;
  Picos at = std::max<Picos>(Picos(t) * 1000, now);
  if (at == ep.timer_ps) return;
  ep.timer_ps = at;
  svc_->timer(e, at);
}

void RcHostStack::after_input(uint32_t e, Picos now) {
  drain_completions(now);
  if (eps_[e].qp->has_transmit()) svc_->wake(eps_[e].host, now);
  arm(e, now);
}

bool RcHostStack::pull(uint32_t host, Picos now, Packet& out) {
  auto& list = host_eps_[host];
  if (list.empty()) return false;
  const Nanos now_ns = now / 1000;
  Nanos later = kNever;
  for (size_t i = 0; i < list.size(); ++i) {
    uint32_t e = list[(cursor_[host] + i) % list.size()];
    Endpoint& ep = eps_[e];
    if (!ep.qp->has_transmit()) continue;
    if (ep.requester) {
      Nanos t = ep.qp->next_send_time();
      if (t > now_ns) {  // rate-limited: the driver paces (rc/ qp.hpp)
        later = std::min(later, t);
        continue;
      }
    }
    uint32_t b = alloc_blob();
    rc::TxPacket tx;
    tx.buf = std::span<uint8_t>(blobs_[b]);
    if (!ep.qp->poll_transmit(now_ns, tx)) {
      free_blobs_.push_back(b);
      continue;
    }
    cursor_[host] = uint32_t((cursor_[host] + i + 1) % list.size());
    const Flow& fl = flows_[ep.flow];
    out.flow = ep.requester ? 2 * ep.flow + 1 : 2 * ep.flow;  // the peer endpoint
    out.dst = ep.requester ? fl.spec.dst : fl.spec.src;
    out.psn = tx.psn;
    out.sport = tx.src_port;
    out.blob = b;
    out.frame = uint32_t(tx.len) + kOuterBytes;
    out.kind = tx.is_cnp ? PacketKind::cnp : tx.is_data ? PacketKind::data : PacketKind::ack;
    out.payload = uint16_t(write_payload(tx.opcode, tx.len));
    if (tx.is_cnp) ++stats_.cnps_sent;
    if (out.kind == PacketKind::data && !tx.retransmit) stats_.payload_sent += out.payload;
    arm(e, now);
    return true;
  }
  if (later != kNever) svc_->wake(host, std::max<Picos>(Picos(later) * 1000, now));
  return false;
}

void RcHostStack::deliver(uint32_t, Picos now, const Packet& p) {
  Endpoint& ep = eps_[p.flow];
  rc::RxMeta meta;
  meta.ecn_ce = p.ce;
  meta.src_port = p.sport;
  const size_t len = p.frame - kOuterBytes;
  rc::RxResult r = ep.qp->handle_packet(now / 1000, std::span<const uint8_t>(blobs_[p.blob].data(), len), meta);
  free_blobs_.push_back(p.blob);
  if (p.kind == PacketKind::cnp) ++stats_.cnps_received;
  if (r == rc::RxResult::accepted && p.kind == PacketKind::data && !ep.requester) {
    flows_[ep.flow].delivered += p.payload;
    stats_.payload_delivered += p.payload;
  }
  after_input(p.flow, now);
}

void RcHostStack::on_drop(const Packet& p) {
  if (p.blob != ~0u) free_blobs_.push_back(p.blob);
}

void RcHostStack::on_timer(uint32_t id, Picos now) {
  if (id >= eps_.size()) {
    start_flow(id - uint32_t(eps_.size()), now);
    return;
  }
  Endpoint& ep = eps_[id];
  if (ep.timer_ps != now) return;  // superseded
  ep.timer_ps = kNeverPs;
  ep.qp->handle_timeout(now / 1000);
  after_input(id, now);
}

void RcHostStack::drain_completions(Picos now) {
  rc::WorkCompletion wcs[64];
  for (;;) {
    size_t n = send_cq_.poll(wcs);
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      uint32_t f = uint32_t(wcs[i].wr_id >> 32);
      Flow& fl = flows_[f];
      if (wcs[i].status != rc::WcStatus::success) {
        fl.done = kNeverPs;  // the QP went to error (retries exhausted): the flow stays incomplete
        continue;
      }
      fl.completed += uint32_t(wcs[i].wr_id);
      if (fl.spec.bytes != kUnlimited && fl.completed >= fl.spec.bytes && fl.done == kNeverPs) {
        fl.done = now;
        ++stats_.flows_completed;
        if (!dependents_.empty())
          for (uint32_t d : dependents_[f]) svc_->timer(uint32_t(eps_.size()) + d, now + flows_[d].spec.start);
      } else {
        post_more(f);
        if (eps_[2 * f].qp->has_transmit()) svc_->wake(eps_[2 * f].host, now);
      }
    }
  }
  rc::WorkCompletion sink[64];
  while (recv_cq_.poll(sink) > 0) {
  }
}

std::vector<Picos> RcHostStack::completion_times() const { return emu::completion_times(flows_); }

double RcHostStack::offered_bits(Picos end) const {
  return emu::offered_bits(flows_, tree_.hosts(), tree_.host_bps(), end);
}

uint64_t RcHostStack::retransmits() const { return recovery_stats().retransmits; }

RcHostStack::RecoveryStats RcHostStack::recovery_stats() const {
  rc::QpStats s;
  for (const Endpoint& ep : eps_) s += ep.qp->stats();
  RecoveryStats r;
  r.retransmits = s.retransmits;
  r.selective_resends = s.selective_resends;
  r.seq_naks_sent = s.seq_naks_sent;
  r.seq_naks_received = s.seq_naks_received;
  r.timeouts = s.timeouts;
  r.out_of_order = s.out_of_order;
  return r;
}

}  // namespace rfab::emu
