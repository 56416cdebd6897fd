#include "rfab/verbs/rc_qp.hpp"
#include "rfab/verbs/ibv_convert.hpp"

#include <arpa/inet.h>
#include <infiniband/verbs.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace rfab::verbs {
namespace {

// rc's enums carry libibverbs' numeric values (checked here, so a change on either side fails the build).
static_assert(static_cast<int>(rc::WrOpcode::rdma_write) == IBV_WR_RDMA_WRITE);
static_assert(static_cast<int>(rc::WrOpcode::send_with_imm) == IBV_WR_SEND_WITH_IMM);
static_assert(static_cast<int>(rc::WrOpcode::rdma_read) == IBV_WR_RDMA_READ);
static_assert(static_cast<int>(rc::WrOpcode::atomic_fetch_and_add) == IBV_WR_ATOMIC_FETCH_AND_ADD);
constexpr uint32_t u(uint32_t v) { return v; }
static_assert(u(rc::kSignaled) == u(IBV_SEND_SIGNALED) && u(rc::kFence) == u(IBV_SEND_FENCE) &&
              u(rc::kSolicited) == u(IBV_SEND_SOLICITED));
static_assert(u(rc::kLocalWrite) == u(IBV_ACCESS_LOCAL_WRITE) && u(rc::kRemoteWrite) == u(IBV_ACCESS_REMOTE_WRITE) &&
              u(rc::kRemoteRead) == u(IBV_ACCESS_REMOTE_READ) && u(rc::kRemoteAtomic) == u(IBV_ACCESS_REMOTE_ATOMIC));
static_assert(static_cast<int>(rc::WcStatus::retry_exc_err) == IBV_WC_RETRY_EXC_ERR);
static_assert(static_cast<int>(rc::WcStatus::general_err) == IBV_WC_GENERAL_ERR);
static_assert(static_cast<int>(rc::WcOpcode::recv_rdma_with_imm) == IBV_WC_RECV_RDMA_WITH_IMM);
static_assert(u(rc::kWcWithImm) == u(IBV_WC_WITH_IMM));

constexpr size_t kMaxSge = 16;

size_t copy_sges(std::span<const rc::Sge> in, ibv_sge* out) {
  for (size_t i = 0; i < in.size(); ++i) out[i] = ibv_sge{in[i].addr, in[i].length, in[i].lkey};
  return in.size();
}

}  // namespace

Device::Device(const Endpoint& ep) : ep_(ep) {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  for (int i = 0; list && i < n && !ctx_; ++i)
    if (ep.device == ibv_get_device_name(list[i])) ctx_ = ibv_open_device(list[i]);
  if (list) ibv_free_device_list(list);
  if (!ctx_) throw VerbsError("ibv_open_device " + ep.device + ": " + std::strerror(errno));
  pd_ = ibv_alloc_pd(ctx_);
  if (!pd_) {
    ibv_close_device(ctx_);
    throw VerbsError("ibv_alloc_pd on " + ep.device + " failed");
  }
}

Device::~Device() {
  if (pd_) ibv_dealloc_pd(pd_);
  if (ctx_) ibv_close_device(ctx_);
}

MemoryRegion::MemoryRegion(Device& dev, void* addr, size_t length, uint32_t access)
    : addr_(static_cast<uint8_t*>(addr)), length_(length) {
  mr_ = ibv_reg_mr(dev.pd(), addr, length, static_cast<int>(access));
  if (!mr_)
    throw VerbsError("ibv_reg_mr of " + std::to_string(length) + " bytes on " + dev.endpoint().device + ": " +
                     std::strerror(errno) + (errno == ENOMEM ? " (raise `ulimit -l`)" : ""));
}
MemoryRegion::~MemoryRegion() {
  if (mr_) ibv_dereg_mr(mr_);
}
uint32_t MemoryRegion::lkey() const { return mr_->lkey; }
uint32_t MemoryRegion::rkey() const { return mr_->rkey; }

RcQueuePair::RcQueuePair(Device& dev, const QpOptions& opt) : dev_(dev), opt_(opt) {
  cq_ = ibv_create_cq(dev.context(), opt.cq_depth, nullptr, nullptr, 0);
  if (!cq_) throw VerbsError("ibv_create_cq(" + std::to_string(opt.cq_depth) + "): " + std::strerror(errno));
  ibv_qp_init_attr ia{};
  ia.send_cq = cq_;
  ia.recv_cq = cq_;
  ia.qp_type = IBV_QPT_RC;
  ia.cap.max_send_wr = opt.cap.max_send_wr;
  ia.cap.max_recv_wr = opt.cap.max_recv_wr;
  ia.cap.max_send_sge = opt.cap.max_send_sge;
  ia.cap.max_recv_sge = opt.cap.max_recv_sge;
  qp_ = ibv_create_qp(dev.pd(), &ia);
  if (!qp_) {
    ibv_destroy_cq(cq_);
    throw VerbsError("ibv_create_qp (RC) on " + dev.endpoint().device + ": " + std::strerror(errno));
  }
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_INIT;
  a.pkey_index = 0;
  a.port_num = dev.endpoint().port;
  a.qp_access_flags = static_cast<unsigned>(opt.attr.qp_access_flags ? opt.attr.qp_access_flags
                                                                     : rc::kRemoteWrite | rc::kRemoteRead |
                                                                           rc::kRemoteAtomic | rc::kLocalWrite);
  if (int e = ibv_modify_qp(qp_, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
    ibv_destroy_qp(qp_);
    ibv_destroy_cq(cq_);
    throw VerbsError(std::string("ibv_modify_qp RESET->INIT: ") + std::strerror(e));
  }
  std::random_device rd;
  psn_ = rd() & 0xFFFFFF;
}

RcQueuePair::~RcQueuePair() {
  if (qp_) ibv_destroy_qp(qp_);
  if (cq_) ibv_destroy_cq(cq_);
}

uint32_t RcQueuePair::qp_num() const { return qp_->qp_num; }

QpAddress RcQueuePair::local_address() const { return {qp_->qp_num, psn_, dev_.endpoint().gid}; }

void RcQueuePair::connect(const QpAddress& remote) {
  const auto& ep = dev_.endpoint();
  ibv_qp_attr a{};
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = to_ibv_mtu(static_cast<uint32_t>(ep.active_mtu));
  a.dest_qp_num = remote.qp_num;
  a.rq_psn = remote.psn;
  a.max_dest_rd_atomic = opt_.attr.max_dest_rd_atomic;
  a.min_rnr_timer = opt_.attr.min_rnr_timer;
  a.ah_attr.is_global = 1;  // RoCE: every packet carries the GRH, i.e. the IP header built from the GIDs
  std::memcpy(a.ah_attr.grh.dgid.raw, remote.gid.data(), 16);
  a.ah_attr.grh.sgid_index = static_cast<uint8_t>(ep.gid_index);
  a.ah_attr.grh.hop_limit = 64;
  a.ah_attr.grh.traffic_class = opt_.traffic_class;
  a.ah_attr.port_num = ep.port;
  if (int e = ibv_modify_qp(qp_, &a,
                            IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
    throw VerbsError(std::string("ibv_modify_qp INIT->RTR (GID index ") + std::to_string(ep.gid_index) +
                     "): " + std::strerror(e));
  ibv_qp_attr r{};
  r.qp_state = IBV_QPS_RTS;
  r.timeout = opt_.attr.timeout;
  r.retry_cnt = opt_.attr.retry_cnt;
  r.rnr_retry = opt_.attr.rnr_retry;
  r.sq_psn = psn_;
  r.max_rd_atomic = opt_.attr.max_rd_atomic;
  if (int e = ibv_modify_qp(qp_, &r,
                            IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                IBV_QP_MAX_QP_RD_ATOMIC))
    throw VerbsError(std::string("ibv_modify_qp RTR->RTS: ") + std::strerror(e));
}

rc::Status RcQueuePair::post_send(const rc::SendWr& wr) {
  if (wr.sg_list.size() > kMaxSge) return {rc::Errc::too_many_sge, "more than 16 SGEs"};
  ibv_sge sges[kMaxSge];
  ibv_send_wr w{};
  w.wr_id = wr.wr_id;
  w.sg_list = sges;
  w.num_sge = static_cast<int>(copy_sges(wr.sg_list, sges));
  w.opcode = static_cast<ibv_wr_opcode>(wr.opcode);
  w.send_flags = wr.send_flags;
  w.imm_data = htonl(wr.imm);
  if (wr.opcode == rc::WrOpcode::atomic_cmp_and_swp || wr.opcode == rc::WrOpcode::atomic_fetch_and_add) {
    w.wr.atomic.remote_addr = wr.atomic.remote_addr;
    w.wr.atomic.compare_add = wr.atomic.compare_add;
    w.wr.atomic.swap = wr.atomic.swap;
    w.wr.atomic.rkey = wr.atomic.rkey;
  } else {
    w.wr.rdma.remote_addr = wr.rdma.remote_addr;
    w.wr.rdma.rkey = wr.rdma.rkey;
  }
  ibv_send_wr* bad = nullptr;
  if (int e = ibv_post_send(qp_, &w, &bad)) return post_error(e);
  return {};
}

rc::Status RcQueuePair::post_recv(const rc::RecvWr& wr) {
  if (wr.sg_list.size() > kMaxSge) return {rc::Errc::too_many_sge, "more than 16 SGEs"};
  ibv_sge sges[kMaxSge];
  ibv_recv_wr w{};
  w.wr_id = wr.wr_id;
  w.sg_list = sges;
  w.num_sge = static_cast<int>(copy_sges(wr.sg_list, sges));
  ibv_recv_wr* bad = nullptr;
  if (int e = ibv_post_recv(qp_, &w, &bad)) return post_error(e);
  return {};
}

size_t RcQueuePair::poll_cq(std::span<rc::WorkCompletion> out) {
  ibv_wc wc[32];
  size_t got = 0;
  while (got < out.size()) {
    int want = static_cast<int>(std::min<size_t>(32, out.size() - got));
    int n = ibv_poll_cq(cq_, want, wc);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      auto& o = out[got++];
      o.wr_id = wc[i].wr_id;
      o.status = static_cast<rc::WcStatus>(wc[i].status);
      o.opcode = static_cast<rc::WcOpcode>(wc[i].opcode);
      o.byte_len = wc[i].byte_len;
      o.wc_flags = wc[i].wc_flags & IBV_WC_WITH_IMM;
      o.imm = (wc[i].wc_flags & IBV_WC_WITH_IMM) ? ntohl(wc[i].imm_data) : 0;
      o.qp_num = wc[i].qp_num;
      o.src_qp = wc[i].src_qp;
    }
    if (n < want) break;
  }
  return got;
}

std::optional<rc::WorkCompletion> RcQueuePair::wait_one(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  rc::WorkCompletion wc;
  for (uint64_t spins = 0;; ++spins) {
    if (poll_cq(std::span<rc::WorkCompletion>(&wc, 1)) == 1) return wc;
    // Check the clock every 1024 empty polls: cheap, and still bounded.
    if ((spins & 1023) == 0 && std::chrono::steady_clock::now() >= until) return std::nullopt;
  }
}

}  // namespace rfab::verbs

namespace rfab::verbs {

ibv_mtu to_ibv_mtu(uint32_t bytes) {
  switch (bytes) {
    case 256: return IBV_MTU_256;
    case 512: return IBV_MTU_512;
    case 2048: return IBV_MTU_2048;
    case 4096: return IBV_MTU_4096;
    default: return IBV_MTU_1024;
  }
}

rc::Status post_error(int err) {
  switch (err) {
    case ENOMEM: return {rc::Errc::queue_full, "work queue full"};
    case EINVAL: return {rc::Errc::invalid_argument, "the device rejected the work request (EINVAL)"};
    case EFAULT: return {rc::Errc::bad_lkey, "bad lkey or address (EFAULT)"};
    default: return {rc::Errc::invalid_state, "the device rejected the work request"};
  }
}

}  // namespace rfab::verbs
