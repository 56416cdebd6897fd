// QueuePair: creation, accessors and the driver-facing dispatch (handle_packet / poll_transmit / timers).
// The state machine is in state.cpp, posting in post.cpp, SGE copies in sge.cpp; the packet work in
// requester.cpp, responder.cpp, completer.cpp and reorder.cpp.
#include <algorithm>
#include <stdexcept>

#include "qp_impl.hpp"

namespace rfab::rc {

QueuePair::Impl::Impl(const QpInit& init)
    : pd(init.pd),
      send_cq(init.send_cq),
      recv_cq(init.recv_cq),
      cap(init.cap),
      tuning(init.tuning),
      qpn(init.qp_num),
      default_cc(init.tuning.line_bps),
      cc(init.cc != nullptr ? init.cc : &default_cc) {
  sq.resize(cap.max_send_wr);
  sq_sge.resize(size_t{cap.max_send_wr} * cap.max_send_sge);
  rq.resize(cap.max_recv_wr);
  rq_sge.resize(size_t{cap.max_recv_wr} * cap.max_recv_sge);
  scratch.resize(kMaxPacketBytes);
}

QueuePair::QueuePair(const QpInit& init) {
  if (init.pd == nullptr) throw std::invalid_argument("QueuePair: pd is null");
  if (init.send_cq == nullptr || init.recv_cq == nullptr)
    throw std::invalid_argument("QueuePair: send_cq and recv_cq are required");
  if (init.qp_num == 0 || init.qp_num > psn::kMask)
    throw std::invalid_argument("QueuePair: qp_num must be 1..2^24-1");
  if (init.cap.max_send_wr == 0 || init.cap.max_send_wr > 65536 || init.cap.max_recv_wr == 0 ||
      init.cap.max_recv_wr > 65536)
    throw std::invalid_argument("QueuePair: max_send_wr and max_recv_wr must be 1..65536");
  if (init.cap.max_send_sge == 0 || init.cap.max_send_sge > 32 || init.cap.max_recv_sge == 0 ||
      init.cap.max_recv_sge > 32)
    throw std::invalid_argument("QueuePair: max_send_sge and max_recv_sge must be 1..32");
  if (init.tuning.max_outstanding == 0 || init.tuning.max_outstanding > (1u << 23))
    throw std::invalid_argument("QueuePair: tuning.max_outstanding must be 1..2^23");
  if (init.tuning.reorder_window == 0 || init.tuning.reorder_window > 1024)
    throw std::invalid_argument("QueuePair: tuning.reorder_window must be 1..1024");
  if (init.tuning.ack_every == 0 || init.tuning.ackreq_every == 0)
    throw std::invalid_argument("QueuePair: tuning.ack_every and tuning.ackreq_every must be >= 1");
  if (!(init.tuning.line_bps > 0)) throw std::invalid_argument("QueuePair: tuning.line_bps must be > 0");
  impl_ = std::make_unique<Impl>(init);
}

QueuePair::~QueuePair() = default;

uint32_t QueuePair::qp_num() const { return impl_->qpn; }
QpState QueuePair::state() const { return impl_->state; }
const QpStats& QueuePair::stats() const { return impl_->stats; }

QpAttr QueuePair::query() const {
  QpAttr a = impl_->attr;
  a.qp_state = impl_->state;
  a.sq_psn = impl_->next_psn;
  a.rq_psn = impl_->epsn;
  return a;
}

Status QueuePair::modify(const QpAttr& attr, uint32_t mask) { return impl_->modify(attr, mask); }

// ---- driver side ----

RxResult QueuePair::handle_packet(Nanos now, std::span<const uint8_t> bytes, const RxMeta& meta) {
  auto dec = wire::decode_roce(bytes);
  return impl_->receive(now, bytes, dec ? &*dec : nullptr, meta, false);
}

RxResult QueuePair::handle_packet(Nanos now, std::span<const uint8_t> bytes, const RxMeta& meta, RxCheck& check) {
  // Decoding and finding the target only read the packet and the QP: a corrupt packet changes nothing.
  auto dec = wire::decode_roce(bytes);
  uint8_t* target = dec ? impl_->continuing_write_target(*dec) : nullptr;
  const bool intact = target != nullptr ? check.copy_verify(dec->payload, target) : check.verify();
  if (!intact) return RxResult::corrupt;
  return impl_->receive(now, bytes, dec ? &*dec : nullptr, meta, target != nullptr);
}

RxResult QueuePair::Impl::receive(Nanos now, std::span<const uint8_t> bytes, const wire::RocePacket* decoded,
                                  const RxMeta& meta, bool placed) {
  Impl& q = *this;
  q.stats.rx_packets++;
  q.stats.rx_bytes += bytes.size();
  if (decoded == nullptr) {
    q.stats.dropped++;
    return RxResult::malformed;
  }
  const wire::RocePacket& p = *decoded;
  if (p.f.bth.dest_qp != q.qpn) {
    q.stats.dropped++;
    return RxResult::wrong_qp;
  }
  if (q.state == QpState::reset || q.state == QpState::init || q.state == QpState::err) {
    q.stats.dropped++;
    return RxResult::bad_state;
  }
  if (p.info->kind == wire::OpKind::cnp) {
    q.stats.cnps_received++;
    // Congestion on one path is routed around; only congestion on every path is the rate's business.
    if (q.paths.cnp(meta.src_port, now)) q.stats.cnps_steered++;
    else q.cc->on_cnp(now);
    return RxResult::cnp;
  }
  if ((p.f.bth.opcode & 0xE0) != wire::op::kRc) {  // UC/UD/... are not for an RC QP
    q.stats.dropped++;
    return RxResult::malformed;
  }
  if (p.info->is_request()) {
    q.paths.received(meta.src_port, meta.ecn_ce);
    q.arriving_port = meta.src_port;
  }
  if (meta.ecn_ce) {
    // The peer's packets toward us are congested: tell the peer (its QP is our dest_qp_num).
    q.stats.ecn_ce_received++;
    if (!q.cnp_ever || now - q.last_cnp >= q.tuning.cnp_interval || now < q.last_cnp) {
      q.cnp_pending = true;
      // Between rfab engines (they hold reordered packets) the CNP leaves with the marked packet's source
      // port, so a sender choosing among ports learns which one is congested. rxe and RNICs ignore a CNP's
      // UDP source port.
      q.cnp_port = q.feedback_port(meta.src_port);
      q.cnp_ever = true;
      q.last_cnp = now;
    }
  }
  if (p.info->is_request()) return q.on_request(now, p, bytes, placed);
  if (q.state == QpState::rtr) {  // responses before we ever sent: stale
    q.stats.dropped++;
    return RxResult::bad_state;
  }
  q.response_port = p.info->kind == wire::OpKind::ack && p.f.aeth.type() == wire::AckType::ack ? meta.src_port : 0;
  return q.on_response(now, p);
}

bool QueuePair::poll_transmit(Nanos now, TxPacket& pkt) {
  Impl& q = *impl_;
  if (pkt.buf.size() < q.mtu + 64)
    throw std::invalid_argument("poll_transmit: TxPacket.buf must hold path MTU + 64 bytes (kMaxPacketBytes)");
  pkt.len = 0;
  pkt.is_cnp = pkt.is_data = pkt.retransmit = false;
  if (q.cnp_pending && q.state != QpState::err) {
    q.cnp_pending = false;
    wire::RoceFields f;
    f.bth.opcode = wire::op::CNP;
    f.bth.becn = true;  // RoCE v2 Annex A17.9.2
    f.bth.dest_qp = q.attr.dest_qp_num;
    f.bth.psn = 0;
    if (q.emit(pkt, f, {}, q.cnp_port)) {
      pkt.is_cnp = true;
      q.stats.cnps_sent++;
      return true;
    }
  }
  if (!q.responder_transmit(now, pkt) && (q.state == QpState::err || !q.requester_transmit(now, pkt))) return false;
  if (pkt.is_data) {
    // Pacing bookkeeping: the next data packet may leave len*8/rate after this one.
    const double rate = q.cc->rate_bps(now);
    const Nanos gap = rate > 0 ? static_cast<Nanos>(static_cast<double>(pkt.len) * 8e9 / rate) : 0;
    q.next_send = std::max(q.next_send, now) + gap;
  }
  return true;
}

bool QueuePair::has_transmit() const {
  const Impl& q = *impl_;
  if (q.nak.pending) return true;
  if (q.state == QpState::err) return false;
  if (q.cnp_pending || q.ack_pending) return true;
  if (q.resend_pending && (q.state == QpState::rts || q.state == QpState::sqd)) return true;
  for (const RdResource& r : q.rd)
    if (r.pending) return true;
  return q.requester_ready(0);
}

Nanos QueuePair::next_deadline() const {
  const Impl& q = *impl_;
  if (q.state == QpState::err || q.state == QpState::reset) return kNever;
  return std::min({q.ack_deadline, q.rnr_deadline, q.resend_deadline, q.nak_deadline, q.cc->next_timer()});
}

void QueuePair::handle_timeout(Nanos now) {
  Impl& q = *impl_;
  if (q.cc->next_timer() <= now) q.cc->on_timer(now);
  if (q.state == QpState::err || q.state == QpState::reset) return;
  if (q.rnr_deadline <= now) q.rnr_deadline = kNever;  // requester may resend (rewound when the NAK came)
  if (q.resend_deadline <= now) q.on_resend_overdue(now);
  if (q.nak_deadline <= now) q.on_nak_deadline(now);
  if (q.ack_deadline <= now) q.on_ack_timeout(now);
}

double QueuePair::rate_bps(Nanos now) const { return impl_->cc->rate_bps(now); }
Nanos QueuePair::next_send_time() const { return impl_->next_send; }

}  // namespace rfab::rc
