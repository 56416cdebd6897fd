// Where a received packet's payload goes, known before the packet is accepted: for a driver that checks
// the packet (ICRC) while copying its payload into place instead of in a separate pass.
//
// Only WRITE MIDDLE/LAST packets at the expected PSN qualify. Their target is the WRITE's current address
// (in_rkey / in_va, set by its FIRST packet, which was checked), not anything in the packet itself, so a
// corrupt packet can only have written into the part of that WRITE's target that the WRITE has not
// written yet, and that the resend of the expected PSN and the packets after it write again before the
// WRITE can complete. A FIRST/ONLY packet names its target in its own RETH, which a corrupt packet may
// have wrong: such a packet is checked before it is copied.
//
// The conditions are exactly those under which receive() -> on_request() -> execute() would copy the
// payload to that address; anything else returns nullptr and takes the ordinary path.
#include "qp_impl.hpp"

namespace rfab::rc {

uint8_t* QueuePair::Impl::continuing_write_target(const wire::RocePacket& p) const {
  // receive(): a request of an RC opcode for this QP in a state that takes it.
  if (p.f.bth.dest_qp != qpn || (p.f.bth.opcode & 0xE0) != wire::op::kRc) return nullptr;
  if (state != QpState::rtr && state != QpState::rts && state != QpState::sqd && state != QpState::sqe) return nullptr;
  const wire::OpcodeInfo& info = *p.info;
  if (info.kind != wire::OpKind::write || (info.pos != wire::MsgPos::middle && info.pos != wire::MsgPos::last))
    return nullptr;
  // on_request(): the expected PSN.
  if (p.f.bth.psn != epsn) return nullptr;
  // execute(): continues a WRITE, lengths as the opcode requires, a receive WQE for an immediate, within
  // what the WRITE has left, and a target that still takes remote writes.
  if (in_msg != InMsg::write) return nullptr;
  const auto len = static_cast<uint32_t>(p.payload.size());
  if (len == 0 || len > mtu || (info.pos == wire::MsgPos::middle && len != mtu)) return nullptr;
  const bool imm = p.f.bth.opcode == wire::op::RC_WRITE_LAST_IMM;
  if (imm && rq_head == rq_tail) return nullptr;
  if (len > in_resid || (info.pos == wire::MsgPos::last && len != in_resid)) return nullptr;
  const MemoryRegion* mr = pd->find(in_rkey);
  if (mr == nullptr || !(mr->access() & kRemoteWrite) || !mr->contains(in_va, len)) return nullptr;
  return mr->at(in_va);
}

}  // namespace rfab::rc
