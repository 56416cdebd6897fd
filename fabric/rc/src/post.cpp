// post_send / post_recv: validate the WR against the QP state, the queue limits and the PD, then copy it
// (and its SGE list) into the preallocated ring.
#include <algorithm>

#include "qp_impl.hpp"

namespace rfab::rc {

Status QueuePair::post_send(const SendWr& wr) {
  Impl& q = *impl_;
  if (q.state == QpState::reset || q.state == QpState::init || q.state == QpState::rtr)
    return {Errc::invalid_state, "post_send: the QP must be in RTS, SQD, SQE or ERR"};
  if (static_cast<uint8_t>(wr.opcode) > 6) return {Errc::invalid_argument, "post_send: unknown opcode"};
  if (wr.sg_list.size() > q.cap.max_send_sge) return {Errc::too_many_sge, "post_send: sg_list exceeds max_send_sge"};
  if (q.sq_tail - q.sq_head >= q.sq.size()) return {Errc::queue_full, "post_send: send queue full (max_send_wr)"};
  const bool rd_atomic = wr.opcode == WrOpcode::rdma_read || wr.opcode == WrOpcode::atomic_cmp_and_swp ||
                         wr.opcode == WrOpcode::atomic_fetch_and_add;
  if (rd_atomic && q.attr.max_rd_atomic == 0)
    return {Errc::invalid_state, "post_send: READ/atomic with max_rd_atomic 0"};
  uint64_t total = 0;
  for (const Sge& s : wr.sg_list) {
    const MemoryRegion* mr = q.pd->find(s.lkey);
    if (mr == nullptr) return {Errc::bad_lkey, "post_send: an SGE's lkey is not a live MR of the QP's PD"};
    if (!mr->contains(s.addr, s.length)) return {Errc::bad_lkey, "post_send: an SGE lies outside its MR"};
    if (rd_atomic && !(mr->access() & kLocalWrite))
      return {Errc::bad_lkey, "post_send: READ/atomic target MR lacks LOCAL_WRITE"};
    total += s.length;
  }
  if (total > (uint64_t{1} << 31)) return {Errc::invalid_argument, "post_send: message longer than 2^31 bytes"};
  if ((wr.opcode == WrOpcode::atomic_cmp_and_swp || wr.opcode == WrOpcode::atomic_fetch_and_add) && total != 8)
    return {Errc::invalid_argument, "post_send: an atomic needs an 8-byte local buffer"};

  const uint32_t idx = q.sq_tail++;
  SendWqe& w = q.swqe(idx);
  w = SendWqe{};
  w.wr_id = wr.wr_id;
  w.opcode = wr.opcode;
  w.flags = wr.send_flags;
  w.imm = wr.imm;
  if (wr.opcode == WrOpcode::atomic_cmp_and_swp || wr.opcode == WrOpcode::atomic_fetch_and_add) {
    w.remote_addr = wr.atomic.remote_addr;
    w.rkey = wr.atomic.rkey;
    w.compare_add = wr.atomic.compare_add;
    w.swap = wr.atomic.swap;
  } else {
    w.remote_addr = wr.rdma.remote_addr;
    w.rkey = wr.rdma.rkey;
  }
  w.num_sge = static_cast<uint32_t>(wr.sg_list.size());
  w.length = static_cast<uint32_t>(total);
  std::copy(wr.sg_list.begin(), wr.sg_list.end(), q.swqe_sge(idx));
  if (q.state == QpState::err) q.flush();  // ibverbs: WRs posted in ERR complete with flush errors
  return {};
}

Status QueuePair::post_recv(const RecvWr& wr) {
  Impl& q = *impl_;
  if (q.state == QpState::reset) return {Errc::invalid_state, "post_recv: the QP is in RESET"};
  if (wr.sg_list.size() > q.cap.max_recv_sge) return {Errc::too_many_sge, "post_recv: sg_list exceeds max_recv_sge"};
  if (q.rq_tail - q.rq_head >= q.rq.size()) return {Errc::queue_full, "post_recv: receive queue full (max_recv_wr)"};
  uint64_t total = 0;
  for (const Sge& s : wr.sg_list) {
    const MemoryRegion* mr = q.pd->find(s.lkey);
    if (mr == nullptr) return {Errc::bad_lkey, "post_recv: an SGE's lkey is not a live MR of the QP's PD"};
    if (!mr->contains(s.addr, s.length)) return {Errc::bad_lkey, "post_recv: an SGE lies outside its MR"};
    if (!(mr->access() & kLocalWrite)) return {Errc::bad_lkey, "post_recv: receive buffer MR lacks LOCAL_WRITE"};
    total += s.length;
  }
  if (total > (uint64_t{1} << 31)) return {Errc::invalid_argument, "post_recv: buffer longer than 2^31 bytes"};
  const uint32_t idx = q.rq_tail++;
  RecvWqe& w = q.rwqe(idx);
  w.wr_id = wr.wr_id;
  w.num_sge = static_cast<uint32_t>(wr.sg_list.size());
  w.length = static_cast<uint32_t>(total);
  std::copy(wr.sg_list.begin(), wr.sg_list.end(), q.rwqe_sge(idx));
  if (q.state == QpState::err) q.flush();
  return {};
}

Status QueuePair::post_send(std::span<const SendWr> wrs, size_t* bad) {
  for (size_t i = 0; i < wrs.size(); ++i) {
    if (Status s = post_send(wrs[i]); !s) {
      if (bad) *bad = i;
      return s;
    }
  }
  return {};
}

Status QueuePair::post_recv(std::span<const RecvWr> wrs, size_t* bad) {
  for (size_t i = 0; i < wrs.size(); ++i) {
    if (Status s = post_recv(wrs[i]); !s) {
      if (bad) *bad = i;
      return s;
    }
  }
  return {};
}

}  // namespace rfab::rc
