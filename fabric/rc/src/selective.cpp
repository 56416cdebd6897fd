// Selective loss recovery at the responder (LossRecovery::selective): when is a hole in the PSN sequence a
// loss rather than reordering? A hole is NAKed once it has been open for `reorder_time` (or, when
// tuning.loss_after is set, once that many packets have overtaken it). reorder_time adapts to
// what the connection shows, in the spirit of RACK (RFC 8985) but measured at the receiver:
//   - a hole that fills by itself took that long to fill: reorder_time covers it with a quarter to spare
//     (and decays very slowly while holes fill sooner: one slow path among fast ones must not be forgotten
//     between two of its packets);
//   - a hole NAKed and then filled by the late original (its resend arrives as a duplicate) was a spurious
//     NAK: reorder_time grows to cover that original's delay.
// A NAKed hole whose resend is overdue (twice the NAK round trip measured on earlier holes) is NAKed again,
// so a lost resend costs a round trip, not the requester's ACK timeout.
#include "qp_impl.hpp"

namespace rfab::rc {

void QueuePair::Impl::hole_opened(Nanos now) {
  hole_since = now;
  if (selective() && !nak_outstanding) nak_deadline = reorder_time == kNever ? kNever : now + reorder_time;
}

void QueuePair::Impl::hole_filled(Nanos now, uint32_t psn) {
  if (selective()) {
    if (nak_outstanding) {
      nak_rtt = nak_rtt == 0 ? now - nak_sent_at : (7 * nak_rtt + (now - nak_sent_at)) / 8;
      nak_fill_valid = true;
      nak_fill_psn = psn;
      nak_fill_hole_since = hole_since;
    } else if (hole_since != kNever) {
      const Nanos took = now - hole_since;
      if (reorder_time != kNever) reorder_time = std::max(took + took / 4, reorder_time - reorder_time / 1024);
    }
  }
  hole_since = kNever;
  nak_deadline = kNever;
}

void QueuePair::Impl::on_overtaken(Nanos now, uint32_t distance) {
  if (nak_outstanding) {
    ++held_since_nak;
    if (nak_rtt != 0 && now - nak_sent_at > 2 * nak_rtt) nak_hole(now);
    return;
  }
  if (distance >= loss_after() || now - hole_since >= reorder_time) nak_hole(now);
}

void QueuePair::Impl::nak_hole(Nanos now) {
  queue_nak(wire::AckType::nak, static_cast<uint8_t>(wire::NakCode::psn_sequence_error), epsn);
  nak_outstanding = true;
  nak_sent_at = now;
  held_since_nak = 0;
  stats.seq_naks_sent++;
  nak_deadline = nak_rtt != 0 ? now + 2 * nak_rtt : kNever;  // the repeat, if the resend is lost too
}

void QueuePair::Impl::on_nak_deadline(Nanos now) {
  nak_deadline = kNever;
  if (held == 0 || (state != QpState::rtr && state != QpState::rts && state != QpState::sqd)) return;
  nak_hole(now);
}

void QueuePair::Impl::check_spurious_nak(Nanos now, uint32_t psn) {
  if (!nak_fill_valid || psn != nak_fill_psn) return;
  nak_fill_valid = false;
  stats.spurious_naks++;
  const Nanos late = now - nak_fill_hole_since;
  if (reorder_time != kNever) reorder_time = std::max(reorder_time, late + late / 4);
}

}  // namespace rfab::rc
