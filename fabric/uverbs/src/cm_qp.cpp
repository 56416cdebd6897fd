// QP attributes of an rdma_cm connection (cm_qp.hpp).
#include "cm_qp.hpp"

#include <algorithm>
#include <cstring>

namespace rfab::uverbs::cm {

namespace {
// RNR NAK timer the responder advertises: 12 = 0.64 ms (IBTA table), what rdma_cm gives RC QPs.
constexpr uint8_t kMinRnrTimer = 12;
}  // namespace

uint8_t clamp_depth(uint8_t asked, uint8_t device_max) { return std::min(asked, device_max); }

QpStep init_attrs(const ConnParams& local) {
  QpStep s;
  s.attr.qp_state = IBV_QPS_INIT;
  s.attr.pkey_index = 0;
  s.attr.port_num = 1;
  s.attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
  if (local.responder_resources > 0) s.attr.qp_access_flags |= IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
  s.mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
  return s;
}

QpStep rtr_attrs(const Message& peer, const ConnParams& local, uint8_t local_mtu, uint8_t traffic_class) {
  QpStep s;
  s.attr.qp_state = IBV_QPS_RTR;
  uint8_t mtu = local_mtu;
  if (peer.path_mtu != 0) mtu = std::min(mtu, peer.path_mtu);
  s.attr.path_mtu = static_cast<ibv_mtu>(mtu);
  s.attr.dest_qp_num = peer.qpn & 0xffffff;
  s.attr.rq_psn = peer.psn & 0xffffff;
  s.attr.max_dest_rd_atomic = std::min(local.responder_resources, peer.initiator_depth);
  s.attr.min_rnr_timer = kMinRnrTimer;
  ibv_ah_attr& ah = s.attr.ah_attr;
  ah.is_global = 1;
  ah.port_num = 1;
  std::memcpy(ah.grh.dgid.raw, peer.gid.data(), 16);
  ah.grh.sgid_index = 0;
  ah.grh.hop_limit = 64;
  ah.grh.traffic_class = traffic_class;
  // Access flags again: the responder resources are only known now (the passive side's rdma_accept).
  s.attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
  if (s.attr.max_dest_rd_atomic > 0 || local.responder_resources > 0)
    s.attr.qp_access_flags |= IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;
  s.mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
           IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER | IBV_QP_ACCESS_FLAGS;
  return s;
}

QpStep rts_attrs(uint32_t local_psn, const Message& peer, const ConnParams& local, uint8_t ack_timeout) {
  QpStep s;
  s.attr.qp_state = IBV_QPS_RTS;
  s.attr.sq_psn = local_psn & 0xffffff;
  s.attr.max_rd_atomic = std::min(local.initiator_depth, peer.responder_resources);
  s.attr.timeout = ack_timeout;
  s.attr.retry_cnt = std::min<uint8_t>(local.retry_count, 7);
  s.attr.rnr_retry = std::min<uint8_t>(local.rnr_retry_count, 7);
  s.mask = IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
           IBV_QP_RNR_RETRY;
  return s;
}

}  // namespace rfab::uverbs::cm
