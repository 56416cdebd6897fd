// The checks a real RDMA device applies to ibv_modify_qp and ibv_post_send on an RC QP, and the
// translation of their arguments into rfab's RC engine (fabric/rc). Pure functions, so every rule is unit
// tested without a datapath.
//
// ibv_modify_qp follows the kernel's ib_modify_qp_is_ok table for RC (which attributes each transition
// requires and which it allows) and rxe's value checks (port 1, P_Key index 0, a GRH for RoCE, path MTU
// within the port's active MTU, at most kMaxRdAtomic outstanding READ/atomic requests). Errors are errno
// values with a reason for the log.
#pragma once
#include <infiniband/verbs.h>

#include <cstdint>
#include <optional>
#include <span>

#include "rfab/rc/types.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::uverbs {

inline constexpr uint8_t kMaxRdAtomic = 128;     // max_qp_rd_atom / max_qp_init_rd_atom (as rxe)
inline constexpr uint32_t kMaxInline = 1024;     // max_inline_data a QP may ask for
inline constexpr uint32_t kMaxSge = 32;          // the engine's SGE limit per work request
inline constexpr uint32_t kMaxQpWr = 65536;      // the engine's queue depth limit

struct PortLimits {
  uint8_t active_mtu = IBV_MTU_1024;  // enum ibv_mtu
  uint32_t gid_count = 1;
  bool v6 = false;                    // the address family of the port's GID
};

struct Failure {
  int err = 0;             // errno value
  const char* why = "";    // static text naming the rule
};

struct ModifyPlan {
  rc::QpAttr attr;
  uint32_t mask = 0;                // engine mask (rc::QpAttrMask)
  std::optional<udp::Address> peer; // from the address vector (INIT -> RTR)
};

// Checks `mask`/`a` for an RC QP in state `cur` and fills `out`. Returns err 0 on success.
Failure plan_modify(rc::QpState cur, const ibv_qp_attr& a, int mask, const PortLimits& lim, ModifyPlan& out);

// Where an inline send's payload is copied: a slot of at least max_inline bytes in memory registered
// (local read) under `lkey`.
struct InlineSlot {
  std::span<uint8_t> bytes;
  uint32_t lkey = 0;
};

// ibv_send_wr -> rc::SendWr for an RC QP. `sges` receives the SGE list (the result points into it).
// IBV_SEND_INLINE copies the payload into `slot` (SEND and RDMA WRITE only, at most max_inline bytes).
Failure convert_send(const ibv_send_wr& wr, bool sq_sig_all, uint32_t max_inline, const InlineSlot& slot,
                     std::span<rc::Sge, kMaxSge> sges, rc::SendWr& out);

// ibv_recv_wr -> rc::RecvWr.
Failure convert_recv(const ibv_recv_wr& wr, std::span<rc::Sge, kMaxSge> sges, rc::RecvWr& out);

// rc::WorkCompletion -> ibv_wc (immediate data back to network order, as libibverbs keeps it).
void convert_wc(const rc::WorkCompletion& in, ibv_wc& out);

// The errno for an engine status (post_*/modify).
int errno_for(rc::Errc e);

// ibv_reg_mr access flags -> engine access flags. Optional flags (IBV_ACCESS_OPTIONAL_RANGE, e.g.
// relaxed ordering) are ignored as the verbs contract allows; hints the engine has no use for
// (IBV_ACCESS_HUGETLB, IBV_ACCESS_MW_BIND) are accepted; the rest of what the engine cannot do
// (zero-based, on-demand paging, flush) fails with EINVAL.
Failure mr_access(int access, uint32_t& engine_access);

}  // namespace rfab::uverbs
