// RC queue pairs: creation with the caps granted, the modify ladder checked as a device checks it
// (qp_rules.hpp) and applied to the engine QP, attachment to the datapath at RTR, and post_send /
// post_recv through context->ops.
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "provider.hpp"
#include "rfab/endpoint/device.hpp"

using namespace rfab;
using namespace rfab::uverbs;

namespace {

uint32_t clamp1(uint32_t v) { return v == 0 ? 1 : v; }

// Stops the QP's packets (destroy, RESET) or re-points them (a new address vector).
void detach(Qp& q) {
  if (!q.attached) return;
  q.ctx->rt->driver().detach(q.qp->qp_num());
  q.attached = false;
}

}  // namespace

namespace rfab::uverbs {

int op_post_send(ibv_qp* ibv_qp, ibv_send_wr* wr, ibv_send_wr** bad) {
  Qp* q = from<Qp>(ibv_qp);
  AppLock l(*q->ctx->rt);
  rc::Sge sges[kMaxSge];
  const size_t slot_bytes = q->init.cap.max_inline_data == 0
                                ? 0
                                : q->inline_buf.size() / q->init.cap.max_send_wr;
  for (; wr != nullptr; wr = wr->next) {
    InlineSlot slot;
    if (slot_bytes != 0) {
      const size_t idx = q->posted % q->init.cap.max_send_wr;
      slot.bytes = std::span<uint8_t>(q->inline_buf.data() + idx * slot_bytes, slot_bytes);
      slot.lkey = q->inline_mr->lkey();
    }
    rc::SendWr out;
    Failure f = convert_send(*wr, q->init.sq_sig_all != 0, q->init.cap.max_inline_data, slot, sges, out);
    if (f.err == 0) {
      const rc::Status st = q->qp->post_send(out);
      if (!st.ok()) f = Failure{errno_for(st.code), st.what};
    }
    if (f.err != 0) {
      if (bad != nullptr) *bad = wr;
      errno = f.err;
      return f.err;
    }
    ++q->posted;
  }
  return 0;
}

int op_post_recv(ibv_qp* ibv_qp, ibv_recv_wr* wr, ibv_recv_wr** bad) {
  Qp* q = from<Qp>(ibv_qp);
  AppLock l(*q->ctx->rt);
  rc::Sge sges[kMaxSge];
  for (; wr != nullptr; wr = wr->next) {
    rc::RecvWr out;
    Failure f = convert_recv(*wr, sges, out);
    if (f.err == 0) {
      const rc::Status st = q->qp->post_recv(out);
      if (!st.ok()) f = Failure{errno_for(st.code), st.what};
    }
    if (f.err != 0) {
      if (bad != nullptr) *bad = wr;
      errno = f.err;
      return f.err;
    }
  }
  return 0;
}

int op_post_srq_recv(ibv_srq*, ibv_recv_wr* wr, ibv_recv_wr** bad) {
  if (bad != nullptr) *bad = wr;
  return ENOSYS;  // the device creates no SRQs
}

}  // namespace rfab::uverbs

RFAB_VERBS_API ibv_qp* ibv_create_qp(ibv_pd* ibv_pd, ibv_qp_init_attr* init) {
  Pd* pd = from<Pd>(ibv_pd);
  Context* c = pd->ctx;
  if (init == nullptr) {
    fail(EINVAL, "create_qp: init_attr is null");
    return nullptr;
  }
  if (init->qp_type != IBV_QPT_RC) {
    fail(EOPNOTSUPP, "create_qp: only RC QPs are supported (qp_type IBV_QPT_RC)");
    return nullptr;
  }
  if (init->srq != nullptr) {
    fail(EOPNOTSUPP, "create_qp: shared receive queues are not supported");
    return nullptr;
  }
  if (init->send_cq == nullptr || init->recv_cq == nullptr) {
    fail(EINVAL, "create_qp: send_cq and recv_cq are required");
    return nullptr;
  }
  if (init->send_cq->context != ibv_pd->context || init->recv_cq->context != ibv_pd->context) {
    fail(EINVAL, "create_qp: the CQs belong to another context than the PD");
    return nullptr;
  }
  ibv_qp_cap cap = init->cap;
  if (cap.max_send_wr > kMaxQpWr || cap.max_recv_wr > kMaxQpWr) {
    fail(EINVAL, "create_qp: max_send_wr and max_recv_wr must be at most 65536");
    return nullptr;
  }
  if (cap.max_send_sge > kMaxSge || cap.max_recv_sge > kMaxSge) {
    fail(EINVAL, "create_qp: max_send_sge and max_recv_sge must be at most 32");
    return nullptr;
  }
  if (cap.max_inline_data > kMaxInline) {
    fail(EINVAL, "create_qp: max_inline_data must be at most 1024");
    return nullptr;
  }
  // A queue of 0 entries (a receive-only or send-only QP) gets the smallest the engine has.
  cap.max_send_wr = clamp1(cap.max_send_wr);
  cap.max_recv_wr = clamp1(cap.max_recv_wr);
  cap.max_send_sge = clamp1(cap.max_send_sge);
  cap.max_recv_sge = clamp1(cap.max_recv_sge);

  auto* q = new Qp();
  std::memset(&q->ibv, 0, sizeof q->ibv);
  q->ctx = c;
  q->pd = pd;
  q->send_cq = from<Cq>(init->send_cq);
  q->recv_cq = from<Cq>(init->recv_cq);
  q->init = *init;
  q->init.cap = cap;
  AppLock l(*c->rt);
  rc::QpInit qi;
  qi.pd = &pd->pd;
  qi.send_cq = q->send_cq->cq.get();
  qi.recv_cq = q->recv_cq->cq.get();
  qi.cap = rc::QpCap{cap.max_send_wr, cap.max_recv_wr, cap.max_send_sge, cap.max_recv_sge};
  qi.qp_num = c->rt->next_qpn();
  try {
    q->qp = std::make_unique<rc::QueuePair>(qi);
    if (cap.max_inline_data > 0) {
      const size_t slot = (cap.max_inline_data + 63) / 64 * 64;
      q->inline_buf.assign(slot * cap.max_send_wr, 0);
      q->inline_mr = pd->pd.reg_mr(q->inline_buf.data(), q->inline_buf.size(), 0);
    }
  } catch (const std::exception& e) {
    delete q;
    fail(EINVAL, std::string("create_qp: ") + e.what());
    return nullptr;
  }
  ++pd->users;
  ++q->send_cq->qps;
  ++q->recv_cq->qps;
  init->cap = cap;  // what was granted, as devices report it
  q->ibv.context = ibv_pd->context;
  q->ibv.qp_context = init->qp_context;
  q->ibv.pd = ibv_pd;
  q->ibv.send_cq = init->send_cq;
  q->ibv.recv_cq = init->recv_cq;
  q->ibv.handle = qi.qp_num;
  q->ibv.qp_num = qi.qp_num;
  q->ibv.state = IBV_QPS_RESET;
  q->ibv.qp_type = IBV_QPT_RC;
  pthread_mutex_init(&q->ibv.mutex, nullptr);
  pthread_cond_init(&q->ibv.cond, nullptr);
  return &q->ibv;
}

RFAB_VERBS_API int ibv_modify_qp(ibv_qp* ibv_qp, ibv_qp_attr* attr, int mask) {
  Qp* q = from<Qp>(ibv_qp);
  if (attr == nullptr) return fail(EINVAL, "modify_qp: attr is null");
  AppLock l(*q->ctx->rt);
  ModifyPlan plan;
  const Failure f = plan_modify(q->qp->state(), *attr, mask, port_limits(*q->ctx->dev), plan);
  if (f.err != 0) return fail(f.err, f.why);
  const rc::Status st = q->qp->modify(plan.attr, plan.mask);
  if (!st.ok()) return fail(errno_for(st.code), std::string("modify_qp: ") + st.what);
  const rc::QpState now = q->qp->state();
  if (now == rc::QpState::reset) detach(*q);
  if (plan.peer) {
    detach(*q);
    try {
      q->ctx->rt->driver().attach(*q->qp, *plan.peer);
      q->attached = true;
      q->ah = attr->ah_attr;
    } catch (const std::exception& e) {
      rc::QpAttr err;
      err.qp_state = rc::QpState::err;
      (void)q->qp->modify(err, rc::kQpState);
      q->ibv.state = IBV_QPS_ERR;
      return fail(EINVAL, std::string("modify_qp: ") + e.what());
    }
  }
  q->ibv.state = static_cast<ibv_qp_state>(q->qp->state());
  return 0;
}

RFAB_VERBS_API int ibv_query_qp(ibv_qp* ibv_qp, ibv_qp_attr* attr, int, ibv_qp_init_attr* init_attr) {
  Qp* q = from<Qp>(ibv_qp);
  AppLock l(*q->ctx->rt);
  const rc::QpAttr a = q->qp->query();
  std::memset(attr, 0, sizeof *attr);
  attr->qp_state = static_cast<ibv_qp_state>(a.qp_state);
  attr->cur_qp_state = attr->qp_state;
  attr->path_mtu = static_cast<ibv_mtu>(a.path_mtu);
  attr->path_mig_state = IBV_MIG_MIGRATED;
  attr->rq_psn = a.rq_psn;
  attr->sq_psn = a.sq_psn;
  attr->dest_qp_num = a.dest_qp_num;
  attr->qp_access_flags = a.qp_access_flags;
  attr->cap = q->init.cap;
  if (q->ah) attr->ah_attr = *q->ah;
  attr->pkey_index = a.pkey_index;
  attr->max_rd_atomic = a.max_rd_atomic;
  attr->max_dest_rd_atomic = a.max_dest_rd_atomic;
  attr->min_rnr_timer = a.min_rnr_timer;
  attr->port_num = 1;
  attr->timeout = a.timeout;
  attr->retry_cnt = a.retry_cnt;
  attr->rnr_retry = a.rnr_retry;
  if (init_attr != nullptr) *init_attr = q->init;
  return 0;
}

RFAB_VERBS_API int ibv_destroy_qp(ibv_qp* ibv_qp) {
  Qp* q = from<Qp>(ibv_qp);
  {
    AppLock l(*q->ctx->rt);
    detach(*q);
    if (q->inline_mr != nullptr) (void)q->pd->pd.dereg_mr(q->inline_mr);
    q->qp.reset();
    --q->pd->users;
    --q->send_cq->qps;
    --q->recv_cq->qps;
  }
  pthread_cond_destroy(&q->ibv.cond);
  pthread_mutex_destroy(&q->ibv.mutex);
  delete q;
  return 0;
}
