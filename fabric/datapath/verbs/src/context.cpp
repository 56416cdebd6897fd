#include "rfab/verbs/context.hpp"
#include "rfab/verbs/ibv_convert.hpp"

#include <arpa/inet.h>
#include <infiniband/verbs.h>

#include <cerrno>
#include <cstring>

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

}  // namespace

Context::Context(const Endpoint& ep) : ep_(ep) {
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

Context::~Context() {
  if (pd_) ibv_dealloc_pd(pd_);
  if (ctx_) ibv_close_device(ctx_);
}

MemoryRegion::MemoryRegion(Context& dev, void* addr, size_t length, uint32_t access)
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
