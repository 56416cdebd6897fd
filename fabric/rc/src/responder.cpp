// Responder (rxe_resp.c): checks each request (PSN, opcode sequence, length, rkey/bounds/access), places
// data, consumes receive WQEs, executes READs (from a bounded resource table) and atomics (saving the
// original value for replay), and produces coalesced ACKs, NAKs, READ responses and atomic ACKs.
// Every check runs before memory is touched: a rejected request leaves memory as it was.
#include <algorithm>
#include <cstring>

#include "qp_impl.hpp"

namespace rfab::rc {
namespace {

using wire::MsgPos;
using wire::OpKind;
namespace op = wire::op;

uint32_t npkts_for(uint32_t len, uint32_t mtu) { return len == 0 ? 1 : (len + mtu - 1) / mtu; }
bool needs_wqe_for_imm(uint8_t opcode) { return opcode == op::RC_WRITE_ONLY_IMM || opcode == op::RC_WRITE_LAST_IMM; }

}  // namespace

void QueuePair::Impl::queue_nak(wire::AckType t, uint8_t value, uint32_t p) {
  nak.pending = true;
  nak.syndrome = wire::Aeth::make(t, value);
  nak.psn = p;
}

// IBTA class C errors (invalid request, remote access, remote operational): NAK and move to ERR.
void QueuePair::Impl::class_c_error(wire::NakCode code, uint32_t p) {
  queue_nak(wire::AckType::nak, static_cast<uint8_t>(code), p);
  stats.access_naks_sent++;
  in_msg = InMsg::none;
  to_error();
}

RxResult QueuePair::Impl::rnr(uint32_t p) {
  queue_nak(wire::AckType::rnr_nak, attr.min_rnr_timer, p);
  nak_outstanding = true;
  stats.rnr_naks_sent++;
  return RxResult::rnr;
}

RxResult QueuePair::Impl::on_request(Nanos now, const wire::RocePacket& p, std::span<const uint8_t> bytes,
                                     bool placed) {
  const int32_t d = psn::diff(p.f.bth.psn, epsn);
  if (d == 0) {
    ack_port = arriving_port;  // the ACK that reports this advance names the port that brought it
    if (held > 0) hole_filled(now, p.f.bth.psn);
    const RxResult r = execute(now, p, placed);
    if (!reorder.empty()) {
      reorder_drain(now);
      if (held > 0) hole_opened(now);  // the next hole: packets beyond it are still held
    }
    return r;
  }
  if (d < 0) return on_duplicate(now, p);
  if (!reorder.empty() && static_cast<uint32_t>(d) < reorder.size()) {
    const RxResult r = reorder_hold(now, p, bytes);
    if (r == RxResult::accepted) {
      if (held++ == 0) {
        hole_opened(now);
        // Spraying: acknowledge the in-order prefix before the hole at once. Its ACK names the port of the
        // prefix's last packet, so the sender keeps measuring the ports that are not late.
        if (spraying() && pkts_since_ack > 0) ack_pending = true;
      }
      if (selective()) on_overtaken(now, static_cast<uint32_t>(d));
    }
    return r;
  }
  // Ahead of the expected PSN: a packet was lost. One NAK per gap (IBTA 9.9.2.1 / o9-36).
  stats.dropped++;
  if (!nak_outstanding) {
    queue_nak(wire::AckType::nak, static_cast<uint8_t>(wire::NakCode::psn_sequence_error), epsn);
    nak_outstanding = true;
    stats.seq_naks_sent++;
  }
  return RxResult::out_of_window;
}

bool QueuePair::Impl::write_target_ok(const wire::RocePacket& p) const {
  const wire::Reth& r = p.f.reth;
  if (!(attr.qp_access_flags & kRemoteWrite)) return false;
  if (r.dma_len == 0) return true;  // zero-length WRITE: no memory is named (IBTA 9.4.4)
  const MemoryRegion* mr = pd->find(r.rkey);
  return mr != nullptr && (mr->access() & kRemoteWrite) && mr->contains(r.va, r.dma_len);
}

RxResult QueuePair::Impl::execute(Nanos, const wire::RocePacket& p, bool placed) {
  const uint32_t rpsn = p.f.bth.psn;
  const wire::OpcodeInfo& info = *p.info;
  const uint8_t opc = p.f.bth.opcode;
  const uint32_t len = static_cast<uint32_t>(p.payload.size());
  nak_outstanding = false;  // the expected PSN arrived

  // Opcode sequence (IBTA 9.8.3.1): a message continues with MIDDLE/LAST of its own kind; nothing else does.
  const bool cont = info.pos == MsgPos::middle || info.pos == MsgPos::last;
  const bool ok_seq = (in_msg == InMsg::none && !cont) || (in_msg == InMsg::send && cont && info.kind == OpKind::send) ||
                      (in_msg == InMsg::write && cont && info.kind == OpKind::write);
  if (!ok_seq) {
    class_c_error(wire::NakCode::invalid_request, rpsn);
    return RxResult::nak_sent;
  }
  // Lengths: FIRST/MIDDLE carry exactly one MTU, nothing carries more.
  if (len > mtu || ((info.pos == MsgPos::first || info.pos == MsgPos::middle) && len != mtu)) {
    class_c_error(wire::NakCode::invalid_request, rpsn);
    return RxResult::nak_sent;
  }

  switch (info.kind) {
    case OpKind::send: {
      if (opc == op::RC_SEND_LAST_INV || opc == op::RC_SEND_ONLY_INV) {  // memory windows: not implemented
        class_c_error(wire::NakCode::invalid_request, rpsn);
        return RxResult::nak_sent;
      }
      if (!cont) {
        if (rq_head == rq_tail) return rnr(rpsn);
        in_msg = InMsg::send;
        in_offset = 0;
      }
      const RecvWqe& r = rwqe(rq_head);
      if (len > r.length - in_offset) {  // message longer than the posted buffer
        complete_recv(rq_head, WcStatus::loc_len_err, WcOpcode::recv, in_offset, false, 0);
        ++rq_head;
        class_c_error(wire::NakCode::invalid_request, rpsn);
        return RxResult::nak_sent;
      }
      if (len > 0 && !sge_scatter(rwqe_sge(rq_head), r.num_sge, in_offset, p.payload.data(), len)) {
        complete_recv(rq_head, WcStatus::loc_prot_err, WcOpcode::recv, in_offset, false, 0);
        ++rq_head;
        class_c_error(wire::NakCode::remote_operational_error, rpsn);
        return RxResult::nak_sent;
      }
      in_offset += len;
      if (info.pos == MsgPos::last || info.pos == MsgPos::only) {
        const bool imm = p.f.has(wire::kImmDt);
        complete_recv(rq_head, WcStatus::success, WcOpcode::recv, in_offset, imm, p.f.imm);
        ++rq_head;
        in_msg = InMsg::none;
        msn = psn::add(msn, 1);
      }
      break;
    }
    case OpKind::write: {
      if (!cont) {
        const wire::Reth& reth = p.f.reth;
        if (info.pos == MsgPos::only ? len != reth.dma_len : reth.dma_len <= len) {
          class_c_error(wire::NakCode::invalid_request, rpsn);
          return RxResult::nak_sent;
        }
        if (!write_target_ok(p)) {
          class_c_error(wire::NakCode::remote_access_error, rpsn);
          return RxResult::nak_sent;
        }
        if (needs_wqe_for_imm(opc) && rq_head == rq_tail) return rnr(rpsn);
        in_msg = InMsg::write;
        in_rkey = reth.rkey;
        in_va = reth.va;
        in_resid = in_total = reth.dma_len;
      } else if (needs_wqe_for_imm(opc) && rq_head == rq_tail) {
        return rnr(rpsn);
      }
      const bool last = info.pos == MsgPos::last || info.pos == MsgPos::only;
      if (len > in_resid || (last && len != in_resid)) {
        class_c_error(wire::NakCode::invalid_request, rpsn);
        return RxResult::nak_sent;
      }
      if (len > 0) {
        // Re-checked per packet: the MR may have been deregistered since the FIRST packet.
        const MemoryRegion* mr = pd->find(in_rkey);
        if (mr == nullptr || !(mr->access() & kRemoteWrite) || !mr->contains(in_va, len)) {
          class_c_error(wire::NakCode::remote_access_error, rpsn);
          return RxResult::nak_sent;
        }
        if (!placed) std::memcpy(mr->at(in_va), p.payload.data(), len);
      }
      in_va += len;
      in_resid -= len;
      if (last) {
        if (needs_wqe_for_imm(opc)) {
          complete_recv(rq_head, WcStatus::success, WcOpcode::recv_rdma_with_imm, in_total, true, p.f.imm);
          ++rq_head;
        }
        in_msg = InMsg::none;
        msn = psn::add(msn, 1);
      }
      break;
    }
    case OpKind::read_request:
    case OpKind::atomic: {
      const bool is_read = info.kind == OpKind::read_request;
      if (rd.empty()) {  // max_dest_rd_atomic 0: this QP takes no READ/atomic requests
        class_c_error(wire::NakCode::invalid_request, rpsn);
        return RxResult::nak_sent;
      }
      // The oldest resource is reclaimed (as rxe does). Its responses, if still being sent, are stale: a
      // requester within max_dest_rd_atomic has completed that request before issuing this one.
      RdResource& res = rd[rd_tail % rd.size()];
      if (is_read) {
        const wire::Reth& reth = p.f.reth;
        if (!(attr.qp_access_flags & kRemoteRead) || reth.dma_len > (1u << 31)) {
          class_c_error(reth.dma_len > (1u << 31) ? wire::NakCode::invalid_request : wire::NakCode::remote_access_error,
                        rpsn);
          return RxResult::nak_sent;
        }
        if (reth.dma_len > 0) {
          const MemoryRegion* mr = pd->find(reth.rkey);
          if (mr == nullptr || !(mr->access() & kRemoteRead) || !mr->contains(reth.va, reth.dma_len)) {
            class_c_error(wire::NakCode::remote_access_error, rpsn);
            return RxResult::nak_sent;
          }
        }
        msn = psn::add(msn, 1);
        res = RdResource{};
        res.kind = RdResource::Kind::read;
        res.first_psn = rpsn;
        res.npkts = npkts_for(reth.dma_len, mtu);
        res.rkey = reth.rkey;
        res.va = reth.va;
        res.resid = reth.dma_len;
        res.next_psn = rpsn;
        res.pending = true;
        res.msn = msn;
      } else {
        const wire::AtomicEth& a = p.f.atomic;
        if (!(attr.qp_access_flags & kRemoteAtomic)) {
          class_c_error(wire::NakCode::remote_access_error, rpsn);
          return RxResult::nak_sent;
        }
        if (a.va & 7) {  // IBTA 9.4.5: atomics need natural (8-byte) alignment
          class_c_error(wire::NakCode::invalid_request, rpsn);
          return RxResult::nak_sent;
        }
        const MemoryRegion* mr = pd->find(a.rkey);
        if (mr == nullptr || !(mr->access() & kRemoteAtomic) || !mr->contains(a.va, 8)) {
          class_c_error(wire::NakCode::remote_access_error, rpsn);
          return RxResult::nak_sent;
        }
        uint64_t orig;
        std::memcpy(&orig, mr->at(a.va), 8);
        const uint64_t result = opc == op::RC_CMP_SWAP ? (orig == a.compare ? a.swap_add : orig) : orig + a.swap_add;
        std::memcpy(mr->at(a.va), &result, 8);
        msn = psn::add(msn, 1);
        res = RdResource{};
        res.kind = RdResource::Kind::atomic;
        res.first_psn = rpsn;
        res.npkts = 1;
        res.orig = orig;
        res.pending = true;
        res.msn = msn;
      }
      res.seq = rd_tail++;
      epsn = psn::add(epsn, res.npkts);
      if (!reorder.empty()) reorder_clear(rpsn, res.npkts);
      return RxResult::accepted;  // the responses are the acknowledgement
    }
    default:
      class_c_error(wire::NakCode::invalid_request, rpsn);
      return RxResult::nak_sent;
  }
  epsn = psn::add(epsn, 1);
  if (p.f.bth.ack_req || ++pkts_since_ack >= tuning.ack_every) ack_pending = true;
  return RxResult::accepted;
}

RxResult QueuePair::Impl::on_duplicate(Nanos now, const wire::RocePacket& p) {
  stats.duplicates++;
  const uint32_t rpsn = p.f.bth.psn;
  if (selective()) check_spurious_nak(now, rpsn);
  switch (p.info->kind) {
    case OpKind::send:
    case OpKind::write:
      ack_pending = true;  // the ACK was lost: say again how far we are (IBTA 9.9.3.1)
      return RxResult::duplicate;
    case OpKind::read_request: {
      // Re-execute from the requested PSN, with the (possibly shortened) RETH of the resent request.
      for (RdResource& r : rd) {
        if (r.kind != RdResource::Kind::read) continue;
        const int32_t off = psn::diff(rpsn, r.first_psn);
        if (off < 0 || static_cast<uint32_t>(off) >= r.npkts) continue;
        const wire::Reth& reth = p.f.reth;
        if (reth.dma_len > 0) {
          const MemoryRegion* mr = pd->find(reth.rkey);
          if (mr == nullptr || !(mr->access() & kRemoteRead) || !mr->contains(reth.va, reth.dma_len))
            return RxResult::duplicate;
        }
        if (npkts_for(reth.dma_len, mtu) != r.npkts - static_cast<uint32_t>(off)) return RxResult::duplicate;
        r.rkey = reth.rkey;
        r.va = reth.va;
        r.resid = reth.dma_len;
        r.next_psn = rpsn;
        r.first_sent = false;
        r.pending = true;
        // Responses of later requests are dropped: the requester resends those requests too (go-back-N).
        for (uint32_t s = r.seq + 1; s != rd_tail; ++s) rd[s % rd.size()].pending = false;
        if (static_cast<int32_t>(r.seq - rd_tx) < 0) rd_tx = r.seq;  // earlier pending ones still go first
        return RxResult::duplicate;
      }
      return RxResult::duplicate;
    }
    case OpKind::atomic:
      // Replay the saved result: executing again would apply the operation twice.
      for (RdResource& r : rd) {
        if (r.kind == RdResource::Kind::atomic && r.first_psn == rpsn) {
          r.pending = true;
          if (static_cast<int32_t>(r.seq - rd_tx) < 0) rd_tx = r.seq;
          break;
        }
      }
      return RxResult::duplicate;
    default: return RxResult::duplicate;
  }
}

bool QueuePair::Impl::emit(TxPacket& pkt, const wire::RoceFields& f, std::span<const uint8_t> payload, uint16_t port,
                           bool stable) {
  pkt.payload = {};
  pkt.header_len = 0;
  if (pkt.gather && stable && !payload.empty() && payload.size() % 4 == 0) {
    // Headers + ICRC slot only (pad 0, as for the payload-less encoding); the payload stays in place.
    auto n = wire::encode_roce(f, {}, pkt.buf);
    if (!n) return false;
    pkt.header_len = *n - wire::kIcrcLen;
    pkt.payload = payload;
    pkt.len = *n + payload.size();
  } else {
    auto n = wire::encode_roce(f, payload, pkt.buf);
    if (!n) return false;
    pkt.len = *n;
  }
  pkt.dest_qp = f.bth.dest_qp;
  pkt.src_port = port;
  pkt.opcode = f.bth.opcode;
  pkt.psn = f.bth.psn;
  stats.tx_packets++;
  stats.tx_bytes += pkt.len;
  return true;
}

bool QueuePair::Impl::emit_ack(TxPacket& pkt, uint8_t syndrome, uint32_t p, uint16_t port) {
  wire::RoceFields f;
  f.bth.opcode = op::RC_ACK;
  f.bth.dest_qp = attr.dest_qp_num;
  f.bth.psn = p;
  f.aeth = wire::Aeth{syndrome, msn};
  return emit(pkt, f, {}, port != 0 ? port : rxe_src_port(qpn, attr.dest_qp_num));
}

bool QueuePair::Impl::responder_transmit(Nanos now, TxPacket& pkt) {
  if (state == QpState::err) {  // only the NAK that reported the error still goes out
    if (!nak.pending) return false;
    nak.pending = false;
    return emit_ack(pkt, nak.syndrome, nak.psn);
  }
  // READ responses and atomic ACKs first, in request order: a later ACK would imply they were lost.
  while (!rd.empty() && rd_tx != rd_tail) {
    RdResource& r = rd[rd_tx % rd.size()];
    if (!r.pending || r.seq != rd_tx) {  // done, or its slot was reclaimed by a newer request
      ++rd_tx;
      continue;
    }
    wire::RoceFields f;
    f.bth.dest_qp = attr.dest_qp_num;
    f.aeth = wire::Aeth{wire::Aeth::make(wire::AckType::ack, wire::kAethCreditInvalid), r.msn};
    if (r.kind == RdResource::Kind::atomic) {
      f.bth.opcode = op::RC_ATOMIC_ACK;
      f.bth.psn = r.first_psn;
      f.atomic_ack.orig = r.orig;
      r.pending = false;
      return emit(pkt, f, {}, rxe_src_port(qpn, attr.dest_qp_num));
    }
    const uint32_t seg = std::min(mtu, r.resid);
    const bool last = r.resid <= mtu;
    f.bth.opcode = !r.first_sent ? (last ? op::RC_READ_RESPONSE_ONLY : op::RC_READ_RESPONSE_FIRST)
                                 : (last ? op::RC_READ_RESPONSE_LAST : op::RC_READ_RESPONSE_MIDDLE);
    f.bth.psn = r.next_psn;
    std::span<const uint8_t> payload;
    if (seg > 0) {
      const MemoryRegion* mr = pd->find(r.rkey);
      if (mr == nullptr || !(mr->access() & kRemoteRead) || !mr->contains(r.va, seg)) {
        r.pending = false;  // MR deregistered while the READ was being answered
        class_c_error(wire::NakCode::remote_access_error, r.next_psn);
        return responder_transmit(now, pkt);
      }
      payload = std::span<const uint8_t>(mr->at(r.va), seg);
    }
    if (!emit(pkt, f, payload, rxe_src_port(qpn, attr.dest_qp_num), true)) return false;
    pkt.is_data = true;  // READ data flows from us: it counts against our rate
    cc->on_send(now, seg);
    r.first_sent = true;
    r.va += seg;
    r.resid -= seg;
    r.next_psn = psn::add(r.next_psn, 1);
    if (last) r.pending = false;
    return true;
  }
  if (nak.pending) {
    nak.pending = false;
    return emit_ack(pkt, nak.syndrome, nak.psn);
  }
  if (ack_pending) {
    ack_pending = false;
    pkts_since_ack = 0;
    stats.acks_sent++;
    return emit_ack(pkt, wire::Aeth::make(wire::AckType::ack, wire::kAethCreditInvalid), psn::add(epsn, psn::kMask),
                    feedback_port(ack_port));
  }
  return false;
}

}  // namespace rfab::rc
