// The RC driver for real devices (an RNIC or the kernel's rxe) through libibverbs. With hardware the NIC is
// the protocol engine, so this is a thin mapping of rfab's RC work-request / completion API (rfab/rc/types.hpp:
// SendWr, RecvWr, WorkCompletion, QpAttr, values equal to libibverbs') onto ibv_post_send / ibv_post_recv /
// ibv_poll_cq: code written against rfab::rc::QueuePair runs on hardware by swapping the queue pair type.
// Connection setup: each side publishes local_address() out of band (TCP, a rendezvous) and calls connect().
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "rfab/rc/qp.hpp"  // QpCap
#include "rfab/rc/types.hpp"
#include "rfab/verbs/device.hpp"

struct ibv_context;
struct ibv_pd;
struct ibv_mr;
struct ibv_cq;
struct ibv_qp;

namespace rfab::verbs {

// An opened device with one protection domain, on the endpoint (device, port, GID index) it was opened for.
class Device {
 public:
  explicit Device(const Endpoint& ep);  // throws VerbsError
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  const Endpoint& endpoint() const { return ep_; }
  ibv_context* context() const { return ctx_; }
  ibv_pd* pd() const { return pd_; }

 private:
  Endpoint ep_;
  ibv_context* ctx_ = nullptr;
  ibv_pd* pd_ = nullptr;
};

// A registered memory region (ibv_reg_mr); access flags are rc::Access values (== ibv_access_flags).
class MemoryRegion {
 public:
  MemoryRegion(Device& dev, void* addr, size_t length, uint32_t access);  // throws VerbsError
  ~MemoryRegion();
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;
  uint8_t* addr() const { return addr_; }
  size_t length() const { return length_; }
  uint32_t lkey() const;
  uint32_t rkey() const;
  rc::Sge sge(size_t offset, uint32_t length) const {
    return {reinterpret_cast<uint64_t>(addr_) + offset, length, lkey()};
  }

 private:
  ibv_mr* mr_ = nullptr;
  uint8_t* addr_;
  size_t length_;
};

// What the peer needs to connect to a QP.
struct QpAddress {
  uint32_t qp_num = 0;
  uint32_t psn = 0;  // first PSN this QP sends
  Gid gid{};
};

struct QpOptions {
  rc::QpCap cap;
  int cq_depth = 1024;
  uint8_t traffic_class = 0;  // IP TOS of the packets (DSCP << 2 | ECN bits)
  rc::QpAttr attr;            // timeout, retry_cnt, rnr_retry, min_rnr_timer, max_rd_atomic, access flags
};

class RcQueuePair {
 public:
  // Creates one CQ (shared by send and receive) and the QP, and moves it to INIT. Throws VerbsError.
  RcQueuePair(Device& dev, const QpOptions& opt = {});
  ~RcQueuePair();
  RcQueuePair(const RcQueuePair&) = delete;
  RcQueuePair& operator=(const RcQueuePair&) = delete;

  QpAddress local_address() const;
  uint32_t qp_num() const;
  // INIT -> RTR -> RTS towards `remote`, path MTU = the port's active MTU. Throws VerbsError naming the step.
  void connect(const QpAddress& remote);

  rc::Status post_send(const rc::SendWr& wr);
  rc::Status post_recv(const rc::RecvWr& wr);
  // Up to out.size() completions, without waiting.
  size_t poll_cq(std::span<rc::WorkCompletion> out);
  // Polls until one completion arrives or the deadline passes (nullopt). Busy-polls: rxe and RNICs complete
  // in microseconds, and a blocking completion channel would add a syscall per completion.
  std::optional<rc::WorkCompletion> wait_one(std::chrono::milliseconds deadline);

 private:
  Device& dev_;
  QpOptions opt_;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  uint32_t psn_ = 0;
};

}  // namespace rfab::verbs
