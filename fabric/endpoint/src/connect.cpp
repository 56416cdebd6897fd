#include "rfab/endpoint/connect.hpp"

#include <string>
#include <vector>

namespace rfab::endpoint {
namespace {

LadderStep init_step(uint32_t access) {
  LadderStep s{"INIT", {}, rc::kQpState | rc::kQpAccessFlags | rc::kQpPkeyIndex | rc::kQpPort};
  s.attr.qp_state = rc::QpState::init;
  s.attr.qp_access_flags = access;
  s.attr.pkey_index = 0;
  s.attr.port_num = 1;
  return s;
}

}  // namespace

std::vector<LadderStep> ladder(rc::QpState from, const ConnectParams& p) {
  std::vector<LadderStep> steps;
  if (from == rc::QpState::reset) steps.push_back(init_step(p.access));
  else if (from != rc::QpState::init)
    throw EndpointError(std::string("QP bring-up: the QP is in state ") + rc::to_string(from) +
                        ", not RESET or INIT");

  LadderStep rtr{"RTR", {}, rc::kQpState | rc::kQpPathMtu | rc::kQpDestQpn | rc::kQpRqPsn | rc::kQpMaxDestRdAtomic |
                                rc::kQpMinRnrTimer};
  rtr.attr.qp_state = rc::QpState::rtr;
  if (!rc::mtu_from_bytes(p.mtu, rtr.attr.path_mtu))
    throw EndpointError("QP bring-up: path MTU " + std::to_string(p.mtu) +
                        " is not a RoCE MTU (256, 512, 1024, 2048 or 4096)");
  rtr.attr.dest_qp_num = p.remote_qpn;
  rtr.attr.rq_psn = p.remote_psn;
  rtr.attr.max_dest_rd_atomic = p.max_dest_rd_atomic;
  rtr.attr.min_rnr_timer = p.min_rnr_timer;
  if (p.entropy.kind != rc::EntropyPolicy::Kind::fixed || p.entropy.paths > 1) {
    rtr.attr.entropy = p.entropy;
    rtr.mask |= rc::kQpEntropy;
  }
  if (p.loss_recovery != rc::LossRecovery::go_back_n) {
    rtr.attr.loss_recovery = p.loss_recovery;
    rtr.mask |= rc::kQpLossRecovery;
  }
  steps.push_back(rtr);

  LadderStep rts{"RTS", {}, rc::kQpState | rc::kQpTimeout | rc::kQpRetryCnt | rc::kQpRnrRetry | rc::kQpSqPsn |
                                rc::kQpMaxQpRdAtomic};
  rts.attr.qp_state = rc::QpState::rts;
  rts.attr.sq_psn = p.local_psn;
  rts.attr.timeout = p.ack_timeout;
  rts.attr.retry_cnt = p.retry_cnt;
  rts.attr.rnr_retry = p.rnr_retry;
  rts.attr.max_rd_atomic = p.max_rd_atomic;
  steps.push_back(rts);
  return steps;
}

uint32_t open_qp(Device& dev, const QpConfig& config, uint32_t access) {
  const uint32_t qpn = dev.create_qp(config);
  const LadderStep s = init_step(access);
  dev.modify_qp(qpn, s.attr, s.mask, nullptr, s.name);
  return qpn;
}

void connect(Device& dev, uint32_t qpn, const ConnectParams& p) {
  for (const LadderStep& s : ladder(dev.qp_state(qpn), p))
    dev.modify_qp(qpn, s.attr, s.mask, s.attr.qp_state == rc::QpState::rtr ? &p.peer : nullptr, s.name);
}

void connect(rc::QueuePair& qp, const ConnectParams& p) {
  for (const LadderStep& s : ladder(qp.state(), p)) {
    const rc::Status st = qp.modify(s.attr, s.mask);
    if (!st.ok())
      throw EndpointError("QP " + std::to_string(qp.qp_num()) + " to " + s.name + ": " + st.what);
  }
}

void fail_qp(Device& dev, uint32_t qpn) noexcept {
  try {
    rc::QpAttr a;
    a.qp_state = rc::QpState::err;
    dev.modify_qp(qpn, a, rc::kQpState, nullptr, "ERR");
  } catch (...) {  // best effort: the caller is already failing
  }
}

}  // namespace rfab::endpoint
