// Completer (rxe_comp.c): processes ACKs, NAKs, READ responses and atomic ACKs; completes send WQEs in
// order; turns NAKs and lost responses into go-back-N, RNR back-off or the error state.
#include <cstring>

#include "qp_impl.hpp"

namespace rfab::rc {

uint32_t QueuePair::Impl::complete_acked(Nanos now, uint32_t bound, bool* rd_lost) {
  *rd_lost = false;
  while (sq_head != sq_tail) {
    SendWqe& w = swqe(sq_head);
    if (!w.started) break;
    if (psn::diff(bound, w.last_psn()) <= 0) {  // responder not past it yet
      // A READ/atomic is acknowledged only as far as its responses arrived.
      const uint32_t got = psn::add(w.first_psn, w.resp_pkts);
      if (w.is_rd_atomic() && psn::diff(bound, got) > 0) return got;
      break;
    }
    if (w.is_rd_atomic()) {
      // The responder is past a READ/atomic whose responses we did not get: they were lost.
      *rd_lost = true;
      return psn::add(w.first_psn, w.resp_pkts);
    }
    complete_send(w, WcStatus::success);
    cc->on_ack(now, w.length);
    retire_head();
  }
  return bound;
}

void QueuePair::Impl::progress(Nanos now, uint32_t new_una) {
  if (psn::diff(new_una, una_psn) > 0) {
    paths.acked(una_psn, new_una, response_port, now);
    una_psn = new_una;
    gap_retry = false;
    retry_left = attr.retry_cnt;  // forward progress refills the budgets (IBTA 9.7.5.2.8)
    rnr_left = attr.rnr_retry;
    timeout_backoff = 0;
    if (resent_at != kNever && psn::diff(new_una, resent_psn) > 0) {  // the last resend got through
      const Nanos sample = now - resent_at;
      resend_rtt = resend_rtt == 0 ? sample : (7 * resend_rtt + sample) / 8;
      resent_at = kNever;
      resend_deadline = kNever;
      resend_backoff = 0;
    }
    // After a timeout every packet still unacknowledged has been out longer than the timeout: an ACK that
    // covers only part of them names the next lost one (NewReno's partial ACK).
    if (timeout_recovery) {
      if (psn::diff(max_psn, una_psn) > 0) resend(una_psn);
      else timeout_recovery = false;
    }
    const Nanos t = ack_timeout();
    ack_deadline = (psn::diff(max_psn, una_psn) > 0 && t != kNever) ? now + t : kNever;
  }
  // The cursor may point at completed work (a resend raced an ACK): skip to the oldest unacked PSN.
  if (static_cast<int32_t>(sq_send - sq_head) < 0 || psn::diff(next_psn, una_psn) < 0) rewind(una_psn);
}

void QueuePair::Impl::retire_head() {
  // rd_inflight counts the READ/atomic WQEs in [sq_head, sq_send): a WQE a rewind put back at the send
  // cursor is not counted.
  if (swqe(sq_head).is_rd_atomic() && static_cast<int32_t>(sq_send - sq_head) > 0) --rd_inflight;
  ++sq_head;
}

// Responses show a hole (lost READ responses / atomic ACK). One go-back-N per hole: the packets still in
// flight behind the hole would otherwise each trigger another and burn the retry budget.
void QueuePair::Impl::gap(Nanos now, uint32_t from) {
  if (gap_retry) return;
  gap_retry = true;
  retry_from(now, from);
}

// A READ response or atomic ACK in the window shows the responder alive and working through our requests
// even when it answers one we have already given up on: a responder drains the requests queued behind a
// lost response before it reaches the resent ones, and a slow one (a software RNIC) takes many ACK timeouts
// to do so. Like rxe's completer, each such packet pushes the ACK timer back; only progress refills the
// retry budget, so a responder that stops answering still exhausts it.
void QueuePair::Impl::responder_working(Nanos now) {
  if (ack_deadline == kNever) return;  // nothing armed: a resend is pending and arms it
  const Nanos t = ack_timeout();
  if (t != kNever) ack_deadline = now + t;
}

RxResult QueuePair::Impl::on_response(Nanos now, const wire::RocePacket& p) {
  const uint32_t rpsn = p.f.bth.psn;
  // Valid responses name a PSN in [una, max_psn): anything else is stale or bogus.
  if (psn::diff(rpsn, una_psn) < 0 || psn::diff(rpsn, max_psn) >= 0) {
    stats.duplicates++;
    return RxResult::duplicate;
  }
  bool rd_lost = false;
  switch (p.info->kind) {
    case wire::OpKind::ack: {
      const wire::Aeth& aeth = p.f.aeth;
      switch (aeth.type()) {
        case wire::AckType::ack: {
          const uint32_t una = complete_acked(now, psn::add(rpsn, 1), &rd_lost);
          progress(now, una);
          if (rd_lost) gap(now, una);
          return RxResult::accepted;
        }
        case wire::AckType::rnr_nak: {
          stats.rnr_naks_received++;
          const uint32_t una = complete_acked(now, rpsn, &rd_lost);
          progress(now, una);
          if (rd_lost) {
            gap(now, una);
            return RxResult::accepted;
          }
          if (!consume_retry(now, true)) return RxResult::accepted;
          rewind(rpsn);
          rnr_deadline = now + rnr_timer_ns(aeth.value());
          ack_deadline = kNever;
          return RxResult::accepted;
        }
        case wire::AckType::nak: {
          const uint32_t una = complete_acked(now, rpsn, &rd_lost);
          progress(now, una);
          if (rd_lost) {
            gap(now, una);
            return RxResult::accepted;
          }
          switch (static_cast<wire::NakCode>(aeth.value())) {
            case wire::NakCode::psn_sequence_error:
              stats.seq_naks_received++;
              paths.lost(rpsn, now);
              // The responder is alive and holds what followed the hole: selective recovery resends the
              // one packet (no retry budget spent); go-back-N resends everything from it.
              if (selective()) resend(rpsn);
              else retry_from(now, rpsn);
              return RxResult::accepted;
            case wire::NakCode::invalid_request: fail_head(WcStatus::rem_inv_req_err); return RxResult::accepted;
            case wire::NakCode::remote_access_error: fail_head(WcStatus::rem_access_err); return RxResult::accepted;
            case wire::NakCode::remote_operational_error: fail_head(WcStatus::rem_op_err); return RxResult::accepted;
            case wire::NakCode::invalid_rd_request:
              fail_head(WcStatus::rem_inv_rd_req_err);
              return RxResult::accepted;
          }
          fail_head(WcStatus::bad_resp_err);  // reserved NAK code
          return RxResult::accepted;
        }
        case wire::AckType::reserved: fail_head(WcStatus::bad_resp_err); return RxResult::accepted;
      }
      return RxResult::malformed;
    }
    case wire::OpKind::read_response: {
      responder_working(now);
      const uint32_t una = complete_acked(now, rpsn, &rd_lost);
      progress(now, una);
      if (rd_lost) {  // a response for a later READ: ours were lost
        gap(now, una);
        return RxResult::accepted;
      }
      if (sq_head == sq_tail || swqe(sq_head).opcode != WrOpcode::rdma_read || !swqe(sq_head).started) {
        stats.duplicates++;
        return RxResult::duplicate;
      }
      SendWqe& w = swqe(sq_head);
      const uint32_t expected = psn::add(w.first_psn, w.resp_pkts);
      const int32_t d = psn::diff(rpsn, expected);
      if (d < 0) {
        stats.duplicates++;
        return RxResult::duplicate;
      }
      if (d > 0) {  // a gap inside this READ's responses: the rest of this stream is useless to us
        gap(now, expected);
        stats.dropped++;
        return RxResult::out_of_window;
      }
      const uint32_t off = w.resp_pkts * mtu;
      const uint32_t seg = std::min(mtu, w.length - off);
      const bool last = w.resp_pkts + 1 == w.npkts;
      const wire::MsgPos pos = p.info->pos;
      const bool says_last = pos == wire::MsgPos::last || pos == wire::MsgPos::only;
      if (p.payload.size() != seg || says_last != last) {
        fail_head(WcStatus::bad_resp_err);
        return RxResult::malformed;
      }
      if (seg > 0 && !sge_scatter(swqe_sge(sq_head), w.num_sge, off, p.payload.data(), seg)) {
        fail_head(WcStatus::loc_prot_err);
        return RxResult::accepted;
      }
      ++w.resp_pkts;
      if (last) {
        complete_send(w, WcStatus::success);
        cc->on_ack(now, w.length);
        retire_head();
      }
      progress(now, psn::add(rpsn, 1));
      return RxResult::accepted;
    }
    case wire::OpKind::atomic_ack: {
      responder_working(now);
      const uint32_t una = complete_acked(now, rpsn, &rd_lost);
      progress(now, una);
      if (rd_lost) {
        gap(now, una);
        return RxResult::accepted;
      }
      if (sq_head == sq_tail || !swqe(sq_head).started || swqe(sq_head).first_psn != rpsn ||
          (swqe(sq_head).opcode != WrOpcode::atomic_cmp_and_swp &&
           swqe(sq_head).opcode != WrOpcode::atomic_fetch_and_add)) {
        stats.duplicates++;
        return RxResult::duplicate;
      }
      SendWqe& w = swqe(sq_head);
      uint8_t orig[8];
      std::memcpy(orig, &p.f.atomic_ack.orig, 8);  // host order, as the responder read it
      if (!sge_scatter(swqe_sge(sq_head), w.num_sge, 0, orig, 8)) {
        fail_head(WcStatus::loc_prot_err);
        return RxResult::accepted;
      }
      w.resp_pkts = 1;
      complete_send(w, WcStatus::success);
      retire_head();
      progress(now, psn::add(rpsn, 1));
      return RxResult::accepted;
    }
    default: break;
  }
  stats.dropped++;
  return RxResult::malformed;
}

}  // namespace rfab::rc
