// The IBTA QP state machine: modify() with its per-transition attribute checks, and what entering
// RESET / RTR / RTS / ERR does to the queues.
#include "qp_impl.hpp"

namespace rfab::rc {

namespace {

bool transition_allowed(QpState from, QpState to) {
  using S = QpState;
  if (to == S::err || to == S::reset) return true;
  switch (from) {
    case S::reset: return to == S::init;
    case S::init: return to == S::init || to == S::rtr;
    case S::rtr: return to == S::rts;
    case S::rts: return to == S::rts || to == S::sqd;
    case S::sqd: return to == S::sqd || to == S::rts;
    case S::sqe: return to == S::rts;
    case S::err: return false;
  }
  return false;
}

// Attributes libibverbs requires for an RC transition (the address vector is the driver's, not ours).
uint32_t required_mask(QpState from, QpState to) {
  if (from == QpState::reset && to == QpState::init) return kQpAccessFlags | kQpPkeyIndex | kQpPort;
  if (from == QpState::init && to == QpState::rtr)
    return kQpPathMtu | kQpDestQpn | kQpRqPsn | kQpMaxDestRdAtomic | kQpMinRnrTimer;
  if (from == QpState::rtr && to == QpState::rts)
    return kQpTimeout | kQpRetryCnt | kQpRnrRetry | kQpSqPsn | kQpMaxQpRdAtomic;
  return 0;
}

const char* missing_name(uint32_t m) {
  if (m & kQpAccessFlags) return "modify: qp_access_flags (kQpAccessFlags) required for RESET->INIT";
  if (m & kQpPkeyIndex) return "modify: pkey_index (kQpPkeyIndex) required for RESET->INIT";
  if (m & kQpPort) return "modify: port_num (kQpPort) required for RESET->INIT";
  if (m & kQpPathMtu) return "modify: path_mtu (kQpPathMtu) required for INIT->RTR";
  if (m & kQpDestQpn) return "modify: dest_qp_num (kQpDestQpn) required for INIT->RTR";
  if (m & kQpRqPsn) return "modify: rq_psn (kQpRqPsn) required for INIT->RTR";
  if (m & kQpMaxDestRdAtomic) return "modify: max_dest_rd_atomic (kQpMaxDestRdAtomic) required for INIT->RTR";
  if (m & kQpMinRnrTimer) return "modify: min_rnr_timer (kQpMinRnrTimer) required for INIT->RTR";
  if (m & kQpTimeout) return "modify: timeout (kQpTimeout) required for RTR->RTS";
  if (m & kQpRetryCnt) return "modify: retry_cnt (kQpRetryCnt) required for RTR->RTS";
  if (m & kQpRnrRetry) return "modify: rnr_retry (kQpRnrRetry) required for RTR->RTS";
  if (m & kQpSqPsn) return "modify: sq_psn (kQpSqPsn) required for RTR->RTS";
  return "modify: max_rd_atomic (kQpMaxQpRdAtomic) required for RTR->RTS";
}

Status validate(const QpAttr& a, uint32_t mask) {
  auto bad = [](const char* what) { return Status{Errc::invalid_argument, what}; };
  constexpr uint32_t kKnown = kQpState | kQpAccessFlags | kQpPkeyIndex | kQpPort | kQpAv | kQpPathMtu |
                              kQpTimeout | kQpRetryCnt | kQpRnrRetry | kQpRqPsn | kQpMaxQpRdAtomic |
                              kQpMinRnrTimer | kQpSqPsn | kQpMaxDestRdAtomic | kQpDestQpn | kQpEntropy |
                              kQpLossRecovery;
  if (mask & ~kKnown) return bad("modify: attribute mask has bits an RC QP does not use");
  if ((mask & kQpState) && static_cast<uint8_t>(a.qp_state) > 6) return bad("modify: qp_state out of range");
  if ((mask & kQpAccessFlags) && (a.qp_access_flags & ~uint32_t{kLocalWrite | kRemoteWrite | kRemoteRead |
                                                              kRemoteAtomic}))
    return bad("modify: qp_access_flags has unknown bits");
  if ((mask & kQpPathMtu) && (static_cast<uint8_t>(a.path_mtu) < 1 || static_cast<uint8_t>(a.path_mtu) > 5))
    return bad("modify: path_mtu must be Mtu::mtu256..mtu4096");
  if ((mask & kQpRqPsn) && a.rq_psn > psn::kMask) return bad("modify: rq_psn exceeds 24 bits");
  if ((mask & kQpSqPsn) && a.sq_psn > psn::kMask) return bad("modify: sq_psn exceeds 24 bits");
  if ((mask & kQpDestQpn) && (a.dest_qp_num > psn::kMask)) return bad("modify: dest_qp_num exceeds 24 bits");
  if ((mask & kQpTimeout) && a.timeout > 31) return bad("modify: timeout must be 0..31");
  if ((mask & kQpRetryCnt) && a.retry_cnt > 7) return bad("modify: retry_cnt must be 0..7");
  if ((mask & kQpRnrRetry) && a.rnr_retry > 7) return bad("modify: rnr_retry must be 0..7");
  if ((mask & kQpMinRnrTimer) && a.min_rnr_timer > 31) return bad("modify: min_rnr_timer must be 0..31");
  if (mask & kQpEntropy) {
    if (a.entropy.paths == 0 || a.entropy.paths > 256) return bad("modify: entropy.paths must be 1..256");
    if (static_cast<uint8_t>(a.entropy.kind) > 3) return bad("modify: entropy.kind out of range");
  }
  if ((mask & kQpLossRecovery) && static_cast<uint8_t>(a.loss_recovery) > 1)
    return bad("modify: loss_recovery out of range");
  return {};
}

}  // namespace

Status QueuePair::Impl::modify(const QpAttr& a, uint32_t mask) {
  if (Status s = validate(a, mask); !s) return s;
  const QpState from = state;
  const QpState to = (mask & kQpState) ? a.qp_state : state;
  if ((mask & kQpState) && !transition_allowed(from, to))
    return {Errc::bad_transition, "modify: transition not allowed by the IBTA QP state machine"};
  if (const uint32_t missing = required_mask(from, to) & ~mask) return {Errc::missing_attribute, missing_name(missing)};

  if (mask & kQpAccessFlags) attr.qp_access_flags = a.qp_access_flags;
  if (mask & kQpPkeyIndex) attr.pkey_index = a.pkey_index;
  if (mask & kQpPort) attr.port_num = a.port_num;
  if (mask & kQpPathMtu) {
    attr.path_mtu = a.path_mtu;
    mtu = mtu_bytes(a.path_mtu);
  }
  if (mask & kQpDestQpn) attr.dest_qp_num = a.dest_qp_num;
  if (mask & kQpTimeout) attr.timeout = a.timeout;
  if (mask & kQpRetryCnt) attr.retry_cnt = a.retry_cnt;
  if (mask & kQpRnrRetry) attr.rnr_retry = a.rnr_retry;
  if (mask & kQpMinRnrTimer) attr.min_rnr_timer = a.min_rnr_timer;
  if (mask & kQpMaxQpRdAtomic) attr.max_rd_atomic = a.max_rd_atomic;
  if (mask & kQpMaxDestRdAtomic) attr.max_dest_rd_atomic = a.max_dest_rd_atomic;
  if (mask & kQpEntropy) attr.entropy = a.entropy;
  if (mask & kQpLossRecovery) attr.loss_recovery = a.loss_recovery;
  if (mask & kQpRqPsn) attr.rq_psn = a.rq_psn;
  if (mask & kQpSqPsn) attr.sq_psn = a.sq_psn;
  if (mask & (kQpEntropy | kQpDestQpn | kQpLossRecovery))
    paths.configure(qpn, attr.dest_qp_num, attr.entropy, requester_window());

  if (!(mask & kQpState) || to == from) {
    if (holds_out_of_order() && reorder.empty() && (state == QpState::rtr || state == QpState::rts)) reorder_alloc();
    return {};
  }
  switch (to) {
    case QpState::reset:
      reset_queues();
      break;
    case QpState::init:
      reset_queues();
      break;
    case QpState::rtr:
      epsn = attr.rq_psn;
      msn = 0;
      rd.assign(attr.max_dest_rd_atomic, RdResource{});
      rd_tail = rd_tx = 0;
      if (holds_out_of_order()) reorder_alloc();
      break;
    case QpState::rts:
      if (from == QpState::rtr) {
        next_psn = max_psn = una_psn = attr.sq_psn;
        retry_left = attr.retry_cnt;
        rnr_left = attr.rnr_retry;
      }
      break;
    case QpState::sqd:
    case QpState::sqe:
      break;
    case QpState::err:
      state = to;
      flush();
      return {};
  }
  state = to;
  return {};
}

void QueuePair::Impl::reset_queues() {
  sq_head = sq_send = sq_tail = 0;
  rq_head = rq_tail = 0;
  send_offset = 0;
  rd_inflight = 0;
  pkts_since_ackreq = pkts_since_ack = 0;
  ack_deadline = rnr_deadline = kNever;
  in_msg = InMsg::none;
  nak_outstanding = ack_pending = cnp_pending = false;
  nak.pending = false;
  rd.clear();
  reorder.clear();
}

void QueuePair::Impl::complete_send(SendWqe& w, WcStatus st) {
  if (st == WcStatus::success && !(w.flags & kSignaled)) return;
  WorkCompletion wc;
  wc.wr_id = w.wr_id;
  wc.status = st;
  switch (w.opcode) {
    case WrOpcode::send:
    case WrOpcode::send_with_imm: wc.opcode = WcOpcode::send; break;
    case WrOpcode::rdma_write:
    case WrOpcode::rdma_write_with_imm: wc.opcode = WcOpcode::rdma_write; break;
    case WrOpcode::rdma_read: wc.opcode = WcOpcode::rdma_read; break;
    case WrOpcode::atomic_cmp_and_swp: wc.opcode = WcOpcode::comp_swap; break;
    case WrOpcode::atomic_fetch_and_add: wc.opcode = WcOpcode::fetch_add; break;
  }
  wc.byte_len = w.length;
  wc.qp_num = qpn;
  wc.src_qp = attr.dest_qp_num;
  send_cq->push(wc);
}

void QueuePair::Impl::complete_recv(uint32_t idx, WcStatus st, WcOpcode op, uint32_t byte_len, bool has_imm,
                                    uint32_t imm) {
  WorkCompletion wc;
  wc.wr_id = rwqe(idx).wr_id;
  wc.status = st;
  wc.opcode = op;
  wc.byte_len = byte_len;
  wc.imm = has_imm ? imm : 0;
  wc.wc_flags = has_imm ? uint32_t{kWcWithImm} : 0u;
  wc.qp_num = qpn;
  wc.src_qp = attr.dest_qp_num;
  recv_cq->push(wc);
}

void QueuePair::Impl::to_error() {
  if (state == QpState::err) return;
  state = QpState::err;
  flush();
}

// Every outstanding WR completes with wr_flush_err (IBTA 10.3.1: ERR state), in queue order.
void QueuePair::Impl::flush() {
  for (; sq_head != sq_tail; ++sq_head) {
    SendWqe& w = swqe(sq_head);
    w.flags |= kSignaled;
    complete_send(w, w.fail);
  }
  sq_send = sq_head;
  for (; rq_head != rq_tail; ++rq_head) complete_recv(rq_head, WcStatus::wr_flush_err, WcOpcode::recv, 0, false, 0);
  in_msg = InMsg::none;
  rd_inflight = 0;
  ack_deadline = rnr_deadline = kNever;
  ack_pending = cnp_pending = false;
  for (RdResource& r : rd) r.pending = false;
}

}  // namespace rfab::rc
