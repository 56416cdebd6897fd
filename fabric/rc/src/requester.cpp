// Requester (rxe_req.c): turns send WQEs into request packets. Segments by path MTU, assigns 24-bit PSNs,
// places AckReq, bounds the packets and READ/atomic requests in flight, and rewinds for go-back-N.
#include <algorithm>

#include "qp_impl.hpp"

namespace rfab::rc {
namespace {

uint32_t npkts_for(uint32_t len, uint32_t mtu) { return len == 0 ? 1 : (len + mtu - 1) / mtu; }

}  // namespace

bool QueuePair::Impl::requester_ready(Nanos) const {
  if (state != QpState::rts && state != QpState::sqd) return false;
  if (rnr_deadline != kNever) return false;  // waiting out an RNR NAK
  if (sq_send == sq_tail) return false;
  const SendWqe& w = sq[sq_send % sq.size()];
  if (!w.started && state == QpState::sqd) return false;  // draining: finish started WQEs only
  if ((w.flags & kFence) && rd_inflight > 0) return false;
  if (w.is_rd_atomic() && rd_inflight >= attr.max_rd_atomic) return false;
  return static_cast<uint32_t>(psn::diff(next_psn, una_psn)) < requester_window();
}

bool QueuePair::Impl::requester_transmit(Nanos now, TxPacket& pkt) {
  if (resend_pending && (state == QpState::rts || state == QpState::sqd) && rnr_deadline == kNever)
    return resend_one(now, pkt);
  if (!requester_ready(now)) return false;
  return segment_next(now, pkt);
}

void QueuePair::Impl::resend(uint32_t p) {
  resend_pending = true;
  resend_psn = p;
}

// One packet from the middle of the stream: move the cursor to it, segment it as usual, move the cursor
// back. A hole inside a READ or atomic (their responses, not their requests, carry the data) is recovered
// as go-back-N from there instead: the cursor then stays.
bool QueuePair::Impl::resend_one(Nanos now, TxPacket& pkt) {
  resend_pending = false;
  const uint32_t p = resend_psn;
  if (psn::diff(p, una_psn) < 0 || psn::diff(p, max_psn) >= 0) return requester_transmit(now, pkt);  // acked meanwhile
  const uint32_t saved_send = sq_send, saved_offset = send_offset, saved_next = next_psn;
  const uint32_t saved_ackreq = pkts_since_ackreq, saved_rd = rd_inflight;
  rewind(p);
  if (next_psn != p || sq_send == sq_tail || swqe(sq_send).is_rd_atomic()) return requester_transmit(now, pkt);
  pkts_since_ackreq = tuning.ackreq_every;  // the resend asks for an ACK: the hole's owner learns at once
  const bool sent = segment_next(now, pkt);
  sq_send = saved_send;
  send_offset = saved_offset;
  next_psn = saved_next;
  pkts_since_ackreq = saved_ackreq;
  rd_inflight = saved_rd;
  if (sent) {
    stats.selective_resends++;
    resent_psn = p;
    resent_at = now;
    // Overdue at three measured round trips, doubling while resends keep failing; before the first
    // measurement only the ACK timeout applies.
    resend_deadline = resend_rtt == 0 ? kNever : now + ((3 * resend_rtt) << resend_backoff);
  }
  return sent;
}

void QueuePair::Impl::on_resend_overdue(Nanos) {
  resend_deadline = kNever;
  if (psn::diff(resent_psn, una_psn) < 0) return;  // covered after all
  if (resend_backoff < 8) ++resend_backoff;
  resend(resent_psn);
}

bool QueuePair::Impl::segment_next(Nanos now, TxPacket& pkt) {
  SendWqe& w = swqe(sq_send);
  if (!w.started) {
    w.started = true;
    w.first_psn = next_psn;
    w.npkts = w.is_rd_atomic() && w.opcode != WrOpcode::rdma_read ? 1 : npkts_for(w.length, mtu);
    w.resp_pkts = 0;
  }
  wire::RoceFields f;
  f.bth.dest_qp = attr.dest_qp_num;
  f.bth.psn = next_psn;
  std::span<const uint8_t> payload;
  bool stable = false;  // payload in registered memory (not gathered into scratch)
  uint32_t new_bytes = 0;

  switch (w.opcode) {
    case WrOpcode::send:
    case WrOpcode::send_with_imm:
    case WrOpcode::rdma_write:
    case WrOpcode::rdma_write_with_imm: {
      const uint32_t off = send_offset;
      const uint32_t seg = std::min(mtu, w.length - off);
      const bool first = off == 0, last = off + seg == w.length;
      const bool is_send = w.opcode == WrOpcode::send || w.opcode == WrOpcode::send_with_imm;
      const bool imm = w.opcode == WrOpcode::send_with_imm || w.opcode == WrOpcode::rdma_write_with_imm;
      namespace op = wire::op;
      if (is_send) {
        f.bth.opcode = first ? (last ? (imm ? op::RC_SEND_ONLY_IMM : op::RC_SEND_ONLY) : op::RC_SEND_FIRST)
                             : (last ? (imm ? op::RC_SEND_LAST_IMM : op::RC_SEND_LAST) : op::RC_SEND_MIDDLE);
      } else if (spraying()) {
        // Every sprayed WRITE packet is a self-describing WRITE_ONLY (own RETH), so the responder can place
        // it whatever order it arrives in. Still plain IBTA on the wire.
        f.bth.opcode = (last && imm) ? op::RC_WRITE_ONLY_IMM : op::RC_WRITE_ONLY;
        f.reth = wire::Reth{w.remote_addr + off, w.rkey, seg};
      } else {
        f.bth.opcode = first ? (last ? (imm ? op::RC_WRITE_ONLY_IMM : op::RC_WRITE_ONLY) : op::RC_WRITE_FIRST)
                             : (last ? (imm ? op::RC_WRITE_LAST_IMM : op::RC_WRITE_LAST) : op::RC_WRITE_MIDDLE);
        if (first) f.reth = wire::Reth{w.remote_addr, w.rkey, w.length};
      }
      if (imm && last) f.imm = w.imm;
      if (seg > 0) {
        const Sge* sges = swqe_sge(sq_send);
        const uint8_t* src = sge_contiguous(sges, w.num_sge, off, seg);
        stable = src != nullptr;
        if (src == nullptr) {
          if (!sge_gather(sges, w.num_sge, off, scratch.data(), seg)) {
            // The source MR went away after post_send (dereg_mr): local protection error.
            // Earlier outstanding WQEs are flushed ahead of it, in order.
            w.fail = WcStatus::loc_prot_err;
            to_error();
            return false;
          }
          src = scratch.data();
        }
        payload = std::span<const uint8_t>(src, seg);
      }
      f.bth.ack_req = last || ++pkts_since_ackreq >= tuning.ackreq_every;
      f.bth.se = last && (w.flags & kSolicited);
      send_offset += seg;
      next_psn = psn::add(next_psn, 1);
      if (last) {
        ++sq_send;
        send_offset = 0;
      }
      new_bytes = seg;
      break;
    }
    case WrOpcode::rdma_read: {
      // A resend after partial responses asks only for the rest (IBTA 9.4.3: a new READ for the remainder).
      const uint32_t off = send_offset;
      const uint32_t rest = w.length - off;
      f.bth.opcode = wire::op::RC_READ_REQUEST;
      f.reth = wire::Reth{w.remote_addr + off, w.rkey, rest};
      f.bth.ack_req = true;
      next_psn = psn::add(next_psn, npkts_for(rest, mtu));
      ++sq_send;
      send_offset = 0;
      ++rd_inflight;
      break;
    }
    case WrOpcode::atomic_cmp_and_swp:
    case WrOpcode::atomic_fetch_and_add: {
      const bool cas = w.opcode == WrOpcode::atomic_cmp_and_swp;
      f.bth.opcode = cas ? wire::op::RC_CMP_SWAP : wire::op::RC_FETCH_ADD;
      f.atomic = wire::AtomicEth{w.remote_addr, w.rkey, cas ? w.swap : w.compare_add, cas ? w.compare_add : 0};
      f.bth.ack_req = true;
      next_psn = psn::add(next_psn, 1);
      ++sq_send;
      send_offset = 0;
      ++rd_inflight;
      break;
    }
  }
  if (f.bth.ack_req) pkts_since_ackreq = 0;

  const bool resent = psn::diff(f.bth.psn, max_psn) < 0;
  const uint16_t port = request_port(now, f.bth.psn, resent);
  if (!emit(pkt, f, payload, port, stable)) return false;
  pkt.is_data = true;
  pkt.retransmit = resent;
  if (pkt.retransmit) stats.retransmits++;
  if (psn::diff(next_psn, max_psn) > 0) max_psn = next_psn;
  if (ack_deadline == kNever) {
    const Nanos t = ack_timeout();
    ack_deadline = t == kNever ? kNever : now + t;
  }
  last_req_tx = now;
  any_req_tx = true;
  cc->on_send(now, new_bytes);
  return true;
}

void QueuePair::Impl::rewind(uint32_t p) {
  uint32_t i = sq_head;
  for (; i != sq_tail; ++i) {
    const SendWqe& w = swqe(i);
    if (!w.started || psn::diff(p, psn::add(w.first_psn, w.npkts)) < 0) break;
  }
  sq_send = i;
  send_offset = 0;
  if (i != sq_tail && swqe(i).started) {
    const SendWqe& w = swqe(i);
    const int32_t d = psn::diff(p, w.first_psn);
    if (d <= 0 || (w.is_rd_atomic() && w.opcode != WrOpcode::rdma_read)) {
      p = w.first_psn;
    } else {
      send_offset = static_cast<uint32_t>(d) * mtu;
    }
  }
  next_psn = p;
  pkts_since_ackreq = 0;
  rd_inflight = 0;
  for (uint32_t j = sq_head; j != sq_send; ++j)
    if (swqe(j).is_rd_atomic()) ++rd_inflight;
}

bool QueuePair::Impl::consume_retry(Nanos, bool rnr) {
  if (rnr && attr.rnr_retry == 7) return true;  // 7 = retry RNR forever (IBTA 9.7.5.2.8)
  uint8_t& left = rnr ? rnr_left : retry_left;
  if (left == 0) {
    fail_head(rnr ? WcStatus::rnr_retry_exc_err : WcStatus::retry_exc_err);
    return false;
  }
  --left;
  return true;
}

void QueuePair::Impl::retry_from(Nanos now, uint32_t p) {
  if (!consume_retry(now, false)) return;
  rewind(p);
  ack_deadline = kNever;  // re-armed by the resend
}

void QueuePair::Impl::fail_head(WcStatus st) {
  if (sq_head != sq_tail) swqe(sq_head).fail = st;
  to_error();
}

void QueuePair::Impl::on_ack_timeout(Nanos now) {
  ack_deadline = kNever;
  gap_retry = false;
  if (psn::diff(max_psn, una_psn) <= 0 || sq_head == sq_tail) return;  // nothing outstanding
  stats.timeouts++;
  if (selective()) {
    // Resend only the oldest unacknowledged packet, and wait longer each time: a path that drops a
    // window's worth is not refilled by a resend of the whole window.
    if (!consume_retry(now, false)) return;
    if (timeout_backoff < 6) ++timeout_backoff;
    timeout_recovery = true;
    paths.lost(una_psn, now);
    resend(una_psn);
    return;
  }
  retry_from(now, una_psn);
}

}  // namespace rfab::rc
