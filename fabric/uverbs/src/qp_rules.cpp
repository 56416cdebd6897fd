#include "qp_rules.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace rfab::uverbs {
namespace {

constexpr Failure ok() { return {}; }
constexpr Failure inval(const char* why) { return {EINVAL, why}; }

// Attributes the engine takes with the same bit as libibverbs.
constexpr uint32_t kEngineBits = IBV_QP_STATE | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
                                 IBV_QP_PATH_MTU | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                 IBV_QP_RQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER |
                                 IBV_QP_SQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_DEST_QPN;
constexpr bool same(ibv_qp_attr_mask a, rc::QpAttrMask b) { return static_cast<uint32_t>(a) == static_cast<uint32_t>(b); }
static_assert(same(IBV_QP_STATE, rc::kQpState) && same(IBV_QP_ACCESS_FLAGS, rc::kQpAccessFlags) &&
              same(IBV_QP_PKEY_INDEX, rc::kQpPkeyIndex) && same(IBV_QP_PORT, rc::kQpPort) &&
              same(IBV_QP_PATH_MTU, rc::kQpPathMtu) && same(IBV_QP_TIMEOUT, rc::kQpTimeout) &&
              same(IBV_QP_RETRY_CNT, rc::kQpRetryCnt) && same(IBV_QP_RNR_RETRY, rc::kQpRnrRetry) &&
              same(IBV_QP_RQ_PSN, rc::kQpRqPsn) && same(IBV_QP_MAX_QP_RD_ATOMIC, rc::kQpMaxQpRdAtomic) &&
              same(IBV_QP_MIN_RNR_TIMER, rc::kQpMinRnrTimer) && same(IBV_QP_SQ_PSN, rc::kQpSqPsn) &&
              same(IBV_QP_MAX_DEST_RD_ATOMIC, rc::kQpMaxDestRdAtomic) && same(IBV_QP_DEST_QPN, rc::kQpDestQpn));

struct Masks {
  uint32_t req = 0, opt = 0;
};

// The kernel's qp_state_table, RC column. False: the transition does not exist for RC.
bool transition(ibv_qp_state cur, ibv_qp_state next, Masks& m) {
  if (next == IBV_QPS_RESET || next == IBV_QPS_ERR) return true;  // from any state, no attributes
  constexpr uint32_t kPath = IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_MIN_RNR_TIMER | IBV_QP_PATH_MIG_STATE;
  switch (cur) {
    case IBV_QPS_RESET:
      if (next != IBV_QPS_INIT) return false;
      m.req = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
      return true;
    case IBV_QPS_INIT:
      if (next == IBV_QPS_INIT) {
        m.opt = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
        return true;
      }
      if (next != IBV_QPS_RTR) return false;
      m.req = IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
              IBV_QP_MIN_RNR_TIMER;
      m.opt = IBV_QP_ALT_PATH | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX;
      return true;
    case IBV_QPS_RTR:
      if (next != IBV_QPS_RTS) return false;
      m.req = IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_TIMEOUT;
      m.opt = IBV_QP_CUR_STATE | kPath;
      return true;
    case IBV_QPS_RTS:
      if (next == IBV_QPS_RTS) {
        m.opt = IBV_QP_CUR_STATE | kPath;
        return true;
      }
      if (next != IBV_QPS_SQD) return false;
      m.opt = IBV_QP_EN_SQD_ASYNC_NOTIFY;
      return true;
    case IBV_QPS_SQD:
      if (next == IBV_QPS_RTS) {
        m.opt = IBV_QP_CUR_STATE | kPath;
        return true;
      }
      if (next != IBV_QPS_SQD) return false;
      m.opt = IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
              IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_MAX_DEST_RD_ATOMIC | kPath;
      return true;
    default:  // SQE -> RTS exists for UD/UC only; ERR leaves only to RESET
      return false;
  }
}

Failure check_av(const ibv_ah_attr& ah, const PortLimits& lim, ModifyPlan& out) {
  if (!ah.is_global) return inval("modify_qp: a RoCE address vector needs a GRH (ah_attr.is_global = 1)");
  if (ah.port_num > 1) return inval("modify_qp: ah_attr.port_num must be 1 (or 0)");
  if (ah.grh.sgid_index >= lim.gid_count) return inval("modify_qp: ah_attr.grh.sgid_index is past the GID table");
  udp::Gid gid;
  std::memcpy(gid.data(), ah.grh.dgid.raw, 16);
  if (gid == udp::Gid{}) return inval("modify_qp: ah_attr.grh.dgid is zero");
  const udp::Address peer = udp::Address::from_gid(gid, 4791);
  if (peer.v6 != lim.v6)
    return inval("modify_qp: the destination GID and the port's GID differ in IP version (IPv4-mapped or not)");
  out.peer = peer;
  return ok();
}

}  // namespace

Failure plan_modify(rc::QpState cur_engine, const ibv_qp_attr& a, int mask_in, const PortLimits& lim, ModifyPlan& out) {
  out = ModifyPlan{};
  const auto mask = static_cast<uint32_t>(mask_in);
  const auto cur = static_cast<ibv_qp_state>(cur_engine);
  if (mask_in < 0 || (mask & ~uint32_t{(IBV_QP_DEST_QPN << 1) - 1}))
    return inval("modify_qp: attribute mask has bits an RC QP does not have");
  ibv_qp_state next = cur;
  if (mask & IBV_QP_STATE) {
    if (a.qp_state > IBV_QPS_ERR) return inval("modify_qp: qp_state is not a QP state");
    next = a.qp_state;
  }
  Masks m;
  if (!transition(cur, next, m)) return inval("modify_qp: the IBTA state machine has no such transition for RC");
  const uint32_t given = mask & ~uint32_t{IBV_QP_STATE};
  if (m.req & ~given) return inval("modify_qp: an attribute this transition requires is missing from the mask");
  if (given & ~(m.req | m.opt)) return inval("modify_qp: the mask names an attribute this transition does not take");

  if ((mask & IBV_QP_CUR_STATE) && a.cur_qp_state != cur)
    return inval("modify_qp: cur_qp_state is not the QP's current state");
  if (mask & IBV_QP_ALT_PATH) return {EOPNOTSUPP, "modify_qp: alternate paths (APM) are not supported"};
  if ((mask & IBV_QP_PATH_MIG_STATE) && a.path_mig_state != IBV_MIG_MIGRATED)
    return inval("modify_qp: path_mig_state must be MIGRATED (no alternate path)");
  if ((mask & IBV_QP_PORT) && a.port_num != 1) return inval("modify_qp: port_num must be 1");
  if ((mask & IBV_QP_PKEY_INDEX) && a.pkey_index != 0) return inval("modify_qp: pkey_index must be 0");
  if ((mask & IBV_QP_ACCESS_FLAGS) &&
      (a.qp_access_flags & ~unsigned{IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
                                     IBV_ACCESS_REMOTE_ATOMIC}))
    return inval("modify_qp: qp_access_flags has bits other than LOCAL_WRITE and REMOTE_WRITE/READ/ATOMIC");
  if (mask & IBV_QP_PATH_MTU) {
    if (a.path_mtu < IBV_MTU_256 || a.path_mtu > IBV_MTU_4096) return inval("modify_qp: path_mtu is not an ibv_mtu");
    if (a.path_mtu > lim.active_mtu) return inval("modify_qp: path_mtu is larger than the port's active MTU");
  }
  if ((mask & IBV_QP_MAX_QP_RD_ATOMIC) && a.max_rd_atomic > kMaxRdAtomic)
    return inval("modify_qp: max_rd_atomic exceeds the device's max_qp_init_rd_atom (128)");
  if ((mask & IBV_QP_MAX_DEST_RD_ATOMIC) && a.max_dest_rd_atomic > kMaxRdAtomic)
    return inval("modify_qp: max_dest_rd_atomic exceeds the device's max_qp_rd_atom (128)");
  if ((mask & IBV_QP_TIMEOUT) && a.timeout > 31) return inval("modify_qp: timeout must be 0..31");
  if ((mask & IBV_QP_RETRY_CNT) && a.retry_cnt > 7) return inval("modify_qp: retry_cnt must be 0..7");
  if ((mask & IBV_QP_RNR_RETRY) && a.rnr_retry > 7) return inval("modify_qp: rnr_retry must be 0..7");
  if ((mask & IBV_QP_MIN_RNR_TIMER) && a.min_rnr_timer > 31) return inval("modify_qp: min_rnr_timer must be 0..31");
  if (mask & IBV_QP_AV) {
    if (Failure f = check_av(a.ah_attr, lim, out); f.err != 0) return f;
  }

  rc::QpAttr& e = out.attr;
  e.qp_state = static_cast<rc::QpState>(next);
  e.qp_access_flags = a.qp_access_flags;
  e.pkey_index = a.pkey_index;
  e.port_num = a.port_num;
  e.path_mtu = static_cast<rc::Mtu>(a.path_mtu);
  // PSNs and QPNs are 24-bit fields on the wire; devices take the low 24 bits (as rxe and mlx5 do).
  e.rq_psn = a.rq_psn & 0xFFFFFF;
  e.sq_psn = a.sq_psn & 0xFFFFFF;
  e.dest_qp_num = a.dest_qp_num & 0xFFFFFF;
  e.timeout = a.timeout;
  e.retry_cnt = a.retry_cnt;
  e.rnr_retry = a.rnr_retry;
  e.min_rnr_timer = a.min_rnr_timer;
  // ibverbs allows 0 (no READ/atomic); the engine keeps at least one resource, which changes nothing for
  // a QP that issues none.
  e.max_rd_atomic = a.max_rd_atomic == 0 ? 1 : a.max_rd_atomic;
  e.max_dest_rd_atomic = a.max_dest_rd_atomic == 0 ? 1 : a.max_dest_rd_atomic;
  out.mask = mask & kEngineBits;
  if (!(mask & IBV_QP_STATE)) out.mask &= ~uint32_t{IBV_QP_STATE};
  return ok();
}

Failure convert_send(const ibv_send_wr& wr, bool sq_sig_all, uint32_t max_inline, const InlineSlot& slot,
                     std::span<rc::Sge, kMaxSge> sges, rc::SendWr& out) {
  out = rc::SendWr{};
  out.wr_id = wr.wr_id;
  switch (wr.opcode) {
    case IBV_WR_RDMA_WRITE: out.opcode = rc::WrOpcode::rdma_write; break;
    case IBV_WR_RDMA_WRITE_WITH_IMM: out.opcode = rc::WrOpcode::rdma_write_with_imm; break;
    case IBV_WR_SEND: out.opcode = rc::WrOpcode::send; break;
    case IBV_WR_SEND_WITH_IMM: out.opcode = rc::WrOpcode::send_with_imm; break;
    case IBV_WR_RDMA_READ: out.opcode = rc::WrOpcode::rdma_read; break;
    case IBV_WR_ATOMIC_CMP_AND_SWP: out.opcode = rc::WrOpcode::atomic_cmp_and_swp; break;
    case IBV_WR_ATOMIC_FETCH_AND_ADD: out.opcode = rc::WrOpcode::atomic_fetch_and_add; break;
    default: return {EINVAL, "post_send: opcode not supported on an RC QP of this device"};
  }
  constexpr unsigned kKnownFlags = IBV_SEND_FENCE | IBV_SEND_SIGNALED | IBV_SEND_SOLICITED | IBV_SEND_INLINE;
  if (wr.send_flags & ~kKnownFlags) return inval("post_send: send_flags has bits an RC QP does not take");
  out.send_flags = (wr.send_flags & (IBV_SEND_FENCE | IBV_SEND_SIGNALED | IBV_SEND_SOLICITED));
  if (sq_sig_all) out.send_flags |= rc::kSignaled;
  if (wr.num_sge < 0 || static_cast<uint32_t>(wr.num_sge) > kMaxSge) return inval("post_send: num_sge out of range");
  if (wr.num_sge > 0 && wr.sg_list == nullptr) return inval("post_send: sg_list is null");
  const auto n = static_cast<size_t>(wr.num_sge);

  if (wr.send_flags & IBV_SEND_INLINE) {
    if (out.opcode != rc::WrOpcode::send && out.opcode != rc::WrOpcode::send_with_imm &&
        out.opcode != rc::WrOpcode::rdma_write && out.opcode != rc::WrOpcode::rdma_write_with_imm)
      return inval("post_send: IBV_SEND_INLINE is for SEND and RDMA WRITE only");
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) total += wr.sg_list[i].length;
    if (total > max_inline || total > slot.bytes.size())
      return inval("post_send: inline data longer than the QP's max_inline_data");
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
      if (wr.sg_list[i].length == 0) continue;
      std::memcpy(slot.bytes.data() + at, reinterpret_cast<const void*>(wr.sg_list[i].addr), wr.sg_list[i].length);
      at += wr.sg_list[i].length;
    }
    sges[0] = rc::Sge{reinterpret_cast<uint64_t>(slot.bytes.data()), static_cast<uint32_t>(total), slot.lkey};
    out.sg_list = sges.first(total > 0 ? 1 : 0);
  } else {
    for (size_t i = 0; i < n; ++i) sges[i] = rc::Sge{wr.sg_list[i].addr, wr.sg_list[i].length, wr.sg_list[i].lkey};
    out.sg_list = sges.first(n);
  }
  if (out.opcode == rc::WrOpcode::rdma_write_with_imm || out.opcode == rc::WrOpcode::send_with_imm)
    out.imm = ntohl(wr.imm_data);
  if (out.opcode == rc::WrOpcode::atomic_cmp_and_swp || out.opcode == rc::WrOpcode::atomic_fetch_and_add) {
    out.atomic.remote_addr = wr.wr.atomic.remote_addr;
    out.atomic.compare_add = wr.wr.atomic.compare_add;
    out.atomic.swap = wr.wr.atomic.swap;
    out.atomic.rkey = wr.wr.atomic.rkey;
  } else {
    out.rdma.remote_addr = wr.wr.rdma.remote_addr;
    out.rdma.rkey = wr.wr.rdma.rkey;
  }
  return ok();
}

Failure convert_recv(const ibv_recv_wr& wr, std::span<rc::Sge, kMaxSge> sges, rc::RecvWr& out) {
  out = rc::RecvWr{};
  out.wr_id = wr.wr_id;
  if (wr.num_sge < 0 || static_cast<uint32_t>(wr.num_sge) > kMaxSge) return inval("post_recv: num_sge out of range");
  if (wr.num_sge > 0 && wr.sg_list == nullptr) return inval("post_recv: sg_list is null");
  const auto n = static_cast<size_t>(wr.num_sge);
  for (size_t i = 0; i < n; ++i) sges[i] = rc::Sge{wr.sg_list[i].addr, wr.sg_list[i].length, wr.sg_list[i].lkey};
  out.sg_list = sges.first(n);
  return ok();
}

void convert_wc(const rc::WorkCompletion& in, ibv_wc& out) {
  std::memset(&out, 0, sizeof out);
  out.wr_id = in.wr_id;
  out.status = static_cast<ibv_wc_status>(in.status);
  out.opcode = static_cast<ibv_wc_opcode>(in.opcode);
  out.byte_len = in.byte_len;
  out.qp_num = in.qp_num;
  out.src_qp = in.src_qp;
  if (in.wc_flags & rc::kWcWithImm) {
    out.wc_flags = IBV_WC_WITH_IMM;
    out.imm_data = htonl(in.imm);
  }
}

int errno_for(rc::Errc e) {
  switch (e) {
    case rc::Errc::ok: return 0;
    case rc::Errc::queue_full: return ENOMEM;  // as mlx5 and rxe report a full work queue
    case rc::Errc::in_use: return EBUSY;
    default: return EINVAL;
  }
}

Failure mr_access(int access, uint32_t& engine_access) {
  const auto a = static_cast<unsigned>(access) & ~unsigned{IBV_ACCESS_OPTIONAL_RANGE};
  constexpr unsigned kEngine = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
                               IBV_ACCESS_REMOTE_ATOMIC;
  constexpr unsigned kHints = IBV_ACCESS_MW_BIND | IBV_ACCESS_HUGETLB;
  if (a & ~(kEngine | kHints))
    return inval("reg_mr: access has flags this device does not support (zero-based, on-demand paging, flush)");
  if ((a & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) && !(a & IBV_ACCESS_LOCAL_WRITE))
    return inval("reg_mr: REMOTE_WRITE and REMOTE_ATOMIC need LOCAL_WRITE");
  engine_access = a & kEngine;
  return ok();
}

}  // namespace rfab::uverbs
