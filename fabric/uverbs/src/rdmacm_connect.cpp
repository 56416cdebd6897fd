// librdmacm's entry points for a connection: its QP (rdma_create_qp, moved to INIT at once and to
// RTR/RTS by the exchange), rdma_connect, rdma_accept, rdma_reject, rdma_establish, rdma_disconnect,
// and rdma_init_qp_attr for programs that move their own QP. The exchange itself is cm_state.hpp over
// the TCP side channel (rdmacm_service.cpp).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "cm_mad.hpp"
#include "cma.hpp"
#include "provider.hpp"

using namespace rfab;
using namespace rfab::uverbs;
using namespace rfab::uverbs::cma;

namespace {

// rdma_conn_param -> this end's side of the exchange, the depths clamped to what the device grants.
cm::ConnParams params_of(const rdma_conn_param& p) {
  cm::ConnParams c;
  c.responder_resources = cm::clamp_depth(p.responder_resources, kMaxRdAtomic);
  c.initiator_depth = cm::clamp_depth(p.initiator_depth, kMaxRdAtomic);
  c.retry_count = std::min<uint8_t>(p.retry_count, 7);
  c.rnr_retry_count = std::min<uint8_t>(p.rnr_retry_count, 7);
  return c;
}

std::vector<uint8_t> private_data_of(const rdma_conn_param* p) {
  if (p == nullptr || p->private_data == nullptr || p->private_data_len == 0) return {};
  const auto* b = static_cast<const uint8_t*>(p->private_data);
  return std::vector<uint8_t>(b, b + p->private_data_len);
}

int create_qp(rdma_cm_id* cm_id, ibv_pd* pd, ibv_qp_init_attr* attr) {
  if (cm_id == nullptr || attr == nullptr) return fail_cm(EINVAL, "rdma_create_qp: id or attributes are null");
  if (cm_id->verbs == nullptr)
    return fail_cm(EINVAL, "rdma_create_qp: the id has no device yet (resolve or bind an address first)");
  if (cm_id->qp != nullptr) return fail_cm(EINVAL, "rdma_create_qp: the id already has a QP");
  if (pd == nullptr) pd = cm_id->pd;
  if (pd == nullptr) {
    cm_id->pd = ibv_alloc_pd(cm_id->verbs);
    pd = cm_id->pd;
    if (pd == nullptr) return -1;
  }
  if (pd->context != cm_id->verbs) return fail_cm(EINVAL, "rdma_create_qp: the PD belongs to another device than the id");
  Id* id = id_of(cm_id);
  bool own_cqs = false;
  if (attr->send_cq == nullptr || attr->recv_cq == nullptr) {
    // As librdmacm: CQs of the queue depths when the program brings none.
    if (attr->send_cq == nullptr) attr->send_cq = ibv_create_cq(cm_id->verbs, std::max(1u, attr->cap.max_send_wr), nullptr, nullptr, 0);
    if (attr->recv_cq == nullptr) attr->recv_cq = ibv_create_cq(cm_id->verbs, std::max(1u, attr->cap.max_recv_wr), nullptr, nullptr, 0);
    if (attr->send_cq == nullptr || attr->recv_cq == nullptr) return -1;
    own_cqs = true;
  }
  ibv_qp* qp = ibv_create_qp(pd, attr);
  if (qp == nullptr) return -1;
  std::lock_guard<std::mutex> g(lock());
  // INIT at once, as librdmacm does; READ/atomic access follows the responder resources at RTR.
  cm::QpStep init = cm::init_attrs(cm::ConnParams{});
  if (ibv_modify_qp(qp, &init.attr, init.mask) != 0) {
    const int err = errno;
    ibv_destroy_qp(qp);
    return fail_cm(err, "rdma_create_qp: moving the QP to INIT failed");
  }
  cm_id->qp = qp;
  cm_id->send_cq = attr->send_cq;
  cm_id->recv_cq = attr->recv_cq;
  id->own_cqs = own_cqs;
  return no_error();
}

}  // namespace

RFAB_VERBS_API int rdma_create_qp(rdma_cm_id* cm_id, ibv_pd* pd, ibv_qp_init_attr* attr) {
  return create_qp(cm_id, pd, attr);
}

RFAB_VERBS_API int rdma_create_qp_ex(rdma_cm_id* cm_id, ibv_qp_init_attr_ex* attr) {
  if (attr == nullptr) return fail_cm(EINVAL, "rdma_create_qp_ex: attributes are null");
  if (attr->comp_mask & ~uint32_t{IBV_QP_INIT_ATTR_PD}) {
    // The same answer as ibv_create_qp_ex on this device: no extended QP features (ibv_wr_* API etc.).
    errno = EOPNOTSUPP;
    return -1;
  }
  ibv_qp_init_attr a{};
  a.qp_context = attr->qp_context;
  a.send_cq = attr->send_cq;
  a.recv_cq = attr->recv_cq;
  a.srq = attr->srq;
  a.cap = attr->cap;
  a.qp_type = attr->qp_type;
  a.sq_sig_all = attr->sq_sig_all;
  const int r = create_qp(cm_id, (attr->comp_mask & IBV_QP_INIT_ATTR_PD) ? attr->pd : nullptr, &a);
  if (r == 0) attr->cap = a.cap;
  return r;
}

RFAB_VERBS_API void rdma_destroy_qp(rdma_cm_id* cm_id) {
  if (cm_id == nullptr || cm_id->qp == nullptr) return;
  ibv_destroy_qp(cm_id->qp);
  cm_id->qp = nullptr;
  Id* id = id_of(cm_id);
  if (id->own_cqs) {
    ibv_destroy_cq(cm_id->send_cq);
    if (cm_id->recv_cq != cm_id->send_cq) ibv_destroy_cq(cm_id->recv_cq);
    cm_id->send_cq = cm_id->recv_cq = nullptr;
    id->own_cqs = false;
  }
}

RFAB_VERBS_API int rdma_connect(rdma_cm_id* cm_id, rdma_conn_param* conn_param) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_connect: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->state != cm::State::kRouteResolved)
    return fail_cm(EINVAL, std::string("rdma_connect: id is ") + cm::state_name(id->state) + ", not route resolved");
  if (conn_param != nullptr && conn_param->private_data_len > cm::kMaxPrivateData)
    return fail_cm(EINVAL, "rdma_connect: private data longer than 196 bytes");
  if (cm_id->qp == nullptr && (conn_param == nullptr || conn_param->qp_num == 0))
    return fail_cm(EINVAL, "rdma_connect: the id has no QP (rdma_create_qp, or conn_param->qp_num)");
  rdma_conn_param defaults{};
  defaults.responder_resources = 1;
  defaults.initiator_depth = 1;
  defaults.retry_count = 7;
  defaults.rnr_retry_count = 7;
  id->local = params_of(conn_param != nullptr ? *conn_param : defaults);
  id->req_private_data = private_data_of(conn_param);
  if (cm_id->qp == nullptr) id->own_qpn = conn_param->qp_num & 0xffffff;

  id->connect_deadline_ns = now_ns() + kConnectTimeoutNs;
  id->refused_retry_until_ns = now_ns() + kRefusedRetryNs;
  apply(*id, cm::Input::kConnect);
  open_side_channel(*id);  // the service thread sends the REQ once it is connected
  return no_error();
}

RFAB_VERBS_API int rdma_accept(rdma_cm_id* cm_id, rdma_conn_param* conn_param) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_accept: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->state != cm::State::kReqReceived)
    return fail_cm(EINVAL, std::string("rdma_accept: id is ") + cm::state_name(id->state) +
                               ", not a connection request");
  if (id->fd < 0 && !id->mad.active) return fail_cm(ECONNRESET, "rdma_accept: the requesting side has gone away");
  if (conn_param != nullptr && conn_param->private_data_len > cm::kMaxPrivateData)
    return fail_cm(EINVAL, "rdma_accept: private data longer than 196 bytes");
  if (cm_id->qp == nullptr && (conn_param == nullptr || conn_param->qp_num == 0))
    return fail_cm(EINVAL, "rdma_accept: the id has no QP (rdma_create_qp, or conn_param->qp_num)");
  if (conn_param != nullptr) {
    id->local = params_of(*conn_param);
  } else {
    // librdmacm's defaults: what the request asked for, as the device grants it.
    id->local.responder_resources = cm::clamp_depth(id->peer.initiator_depth, kMaxRdAtomic);
    id->local.initiator_depth = cm::clamp_depth(id->peer.responder_resources, kMaxRdAtomic);
    id->local.rnr_retry_count = 7;
  }
  id->local.retry_count = id->peer.retry_count;  // the passive side retries as the active side asked
  if (cm_id->qp == nullptr) {
    id->own_qpn = conn_param->qp_num & 0xffffff;
  } else if (const int err = connect_qp(*id); err != 0) {
    return fail_cm(err, "rdma_accept: moving the QP to RTR/RTS failed");
  }
  cm::Message rep = local_message(*id, cm::Type::kReply);
  rep.private_data = private_data_of(conn_param);
  apply(*id, cm::Input::kAccept, 0, nullptr, &rep);
  return no_error();
}

RFAB_VERBS_API int rdma_reject(rdma_cm_id* cm_id, const void* private_data, uint8_t private_data_len) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_reject: id is null");
  if (private_data_len > cm::kMaxPrivateData) return fail_cm(EINVAL, "rdma_reject: private data longer than 196 bytes");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->mad.active && private_data_len > ibcm::private_data_size(ibcm::Attr::kRej))
    return fail_cm(EINVAL, "rdma_reject: private data longer than the 148 bytes of a CM REJ");
  cm::Message rej;
  rej.reject_reason = cm::kRejectConsumer;
  if (private_data != nullptr && private_data_len > 0) {
    const auto* b = static_cast<const uint8_t*>(private_data);
    rej.private_data.assign(b, b + private_data_len);
  }
  if (!apply(*id, cm::Input::kReject, 0, nullptr, &rej))
    return fail_cm(EINVAL, std::string("rdma_reject: id is ") + cm::state_name(id->state) + ", not a connection request");
  close_socket(*id);
  return no_error();
}

RFAB_VERBS_API int rdma_establish(rdma_cm_id* cm_id) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_establish: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  const cm::Message rtu = local_message(*id, cm::Type::kReadyToUse);
  if (!apply(*id, cm::Input::kEstablish, 0, nullptr, &rtu))
    return fail_cm(EINVAL, std::string("rdma_establish: id is ") + cm::state_name(id->state) +
                               ", not waiting for rdma_establish");
  return no_error();
}

RFAB_VERBS_API int rdma_disconnect(rdma_cm_id* cm_id) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_disconnect: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  const cm::State before = id->state;
  if (!apply(*id, cm::Input::kDisconnect))
    return fail_cm(EINVAL, std::string("rdma_disconnect: id is ") + cm::state_name(before) + ", not connected");
  // The QP goes to ERR so that its posted work completes with flush errors (programs wait for them),
  // as librdmacm does.
  if (cm_id->qp != nullptr && cm_id->qp->state != IBV_QPS_ERR && cm_id->qp->state != IBV_QPS_RESET) {
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_ERR;
    (void)ibv_modify_qp(cm_id->qp, &a, IBV_QP_STATE);
  }
  close_socket(*id);
  return no_error();
}

RFAB_VERBS_API int rdma_init_qp_attr(rdma_cm_id* cm_id, ibv_qp_attr* qp_attr, int* qp_attr_mask) {
  if (cm_id == nullptr || qp_attr == nullptr || qp_attr_mask == nullptr)
    return fail_cm(EINVAL, "rdma_init_qp_attr: a null argument");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  cm::QpStep s;
  switch (qp_attr->qp_state) {
    case IBV_QPS_INIT:
      s = cm::init_attrs(cm::ConnParams{});
      break;
    case IBV_QPS_RTR:
    case IBV_QPS_RTS:
      if (!id->has_peer || cm_id->verbs == nullptr)
        return fail_cm(EINVAL, "rdma_init_qp_attr: RTR/RTS need the peer's request or reply first");
      if (id->state == cm::State::kReqReceived && id->local.responder_resources == 0 && id->local.initiator_depth == 0) {
        // Passive side before rdma_accept: the request's depths are the defaults.
        id->local.responder_resources = cm::clamp_depth(id->peer.initiator_depth, kMaxRdAtomic);
        id->local.initiator_depth = cm::clamp_depth(id->peer.responder_resources, kMaxRdAtomic);
        id->local.retry_count = id->peer.retry_count;
      }
      s = qp_attr->qp_state == IBV_QPS_RTR ? cm::rtr_attrs(id->peer, id->local, active_mtu(cm_id->verbs), id->tos)
                                           : cm::rts_attrs(id->psn, id->peer, id->local, id->ack_timeout);
      break;
    default:
      return fail_cm(EINVAL, "rdma_init_qp_attr: only INIT, RTR and RTS");
  }
  *qp_attr = s.attr;
  *qp_attr_mask = s.mask;
  return no_error();
}
