// Responder reorder window for sprayed traffic (docs/multipath.md). A request up to reorder_window PSNs
// ahead of the expected one is not a loss: a WRITE_ONLY (every sprayed WRITE packet is one) is checked and
// placed at once; anything else is held in its PSN's slot. Completions, MSN and ACKs still advance strictly
// in PSN order when the gap fills, so delivery semantics are those of an in-order RC connection.
#include <cstring>

#include "qp_impl.hpp"

namespace rfab::rc {

void QueuePair::Impl::reorder_alloc() {
  // Slots get their packet buffer when a packet that must be copied lands in them: a sprayed WRITE is
  // placed at once and never needs one, and a QP that only sends never holds anything.
  reorder.assign(tuning.reorder_window, ReorderSlot{});
  held = 0;
  hole_since = nak_deadline = kNever;
  nak_fill_valid = false;
  // How long a hole may stay open before it is taken as lost, to start with: as configured; with only a
  // packet-count rule configured (loss_after), no time rule; sprayed packets are expected to be
  // reordered, so 1 ms until reordering has been seen; an in-order path, none (NAK at once).
  if (tuning.reorder_time != 0) reorder_time = tuning.reorder_time;
  else if (tuning.loss_after != 0) reorder_time = kNever;
  else reorder_time = spraying() ? 1'000'000 : 0;
}

RxResult QueuePair::Impl::reorder_hold(Nanos, const wire::RocePacket& p, std::span<const uint8_t> bytes) {
  const uint32_t rpsn = p.f.bth.psn;
  ReorderSlot& s = reorder[rpsn % reorder.size()];
  if (s.used && s.psn == rpsn) {
    stats.duplicates++;
    return RxResult::duplicate;
  }
  stats.out_of_order++;
  if (s.used) --held;  // a stale slot from an earlier lap (cannot be held any more)
  s = ReorderSlot{false, false, false, rpsn, 0, std::move(s.bytes)};
  s.ack_req = p.f.bth.ack_req;
  const uint32_t len = static_cast<uint32_t>(p.payload.size());
  if (p.f.bth.opcode == wire::op::RC_WRITE_ONLY && len <= mtu && len == p.f.reth.dma_len && write_target_ok(p)) {
    if (len > 0) std::memcpy(pd->find(p.f.reth.rkey)->at(p.f.reth.va), p.payload.data(), len);
    s.used = s.placed = true;
    return RxResult::accepted;
  }
  if (bytes.size() > kMaxPacketBytes) {  // larger than any MTU allows: the in-order check would reject it
    stats.dropped++;
    return RxResult::out_of_window;
  }
  if (s.bytes.size() < kMaxPacketBytes) s.bytes.resize(kMaxPacketBytes);
  std::memcpy(s.bytes.data(), bytes.data(), bytes.size());
  s.len = static_cast<uint32_t>(bytes.size());
  s.used = true;
  return RxResult::accepted;
}

void QueuePair::Impl::reorder_drain(Nanos now) {
  while (state == QpState::rtr || state == QpState::rts || state == QpState::sqd || state == QpState::sqe) {
    ReorderSlot& s = reorder[epsn % reorder.size()];
    if (!s.used || s.psn != epsn) return;
    s.used = false;
    --held;
    if (s.placed) {
      if (in_msg != InMsg::none) {  // a WRITE_ONLY inside another message: invalid opcode sequence
        class_c_error(wire::NakCode::invalid_request, epsn);
        return;
      }
      nak_outstanding = false;
      msn = psn::add(msn, 1);
      epsn = psn::add(epsn, 1);
      if (s.ack_req || ++pkts_since_ack >= tuning.ack_every) ack_pending = true;
      continue;
    }
    auto dec = wire::decode_roce(std::span<const uint8_t>(s.bytes.data(), s.len));
    if (!dec) return;  // cannot happen: it decoded when it was held
    const uint32_t before = epsn;
    execute(now, *dec);
    if (epsn == before) return;  // RNR or NAK: the requester resends from here
  }
}

void QueuePair::Impl::reorder_clear(uint32_t from, uint32_t n) {
  // A READ consumed PSNs [from, from+n): no request can legitimately hold them.
  const uint32_t w = static_cast<uint32_t>(reorder.size());
  for (uint32_t i = 0; i < n && i < w; ++i) {
    ReorderSlot& s = reorder[psn::add(from, i) % w];
    if (s.used && psn::diff(s.psn, from) >= 0 && psn::diff(s.psn, psn::add(from, n)) < 0) {
      s.used = false;
      --held;
    }
  }
}

}  // namespace rfab::rc
