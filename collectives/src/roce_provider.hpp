// What the RoCE transport needs from whatever moves its RDMA writes: memory registration, one RC queue pair
// per peer, shared send and receive completion queues, and a way to sleep until something happens. Two
// implementations speak the same wire protocol (RoCE v2 RC, WRITE WITH IMMEDIATE into the peer's ring):
//   udp   (roce_provider_udp.cpp):   rfab's own RC engine (fabric/rc) over kernel UDP sockets;
//   verbs (roce_provider_verbs.cpp): an RDMA device through libibverbs (an RNIC or Linux rxe), where the
//                                    device is the protocol engine.
// So one rank may use rxe and its peer rfab's user-space stack. The ring/credit logic above this interface
// (roce_transport.cpp, roce_datapath.cpp) does not know which one it drives. Every call except wake() comes
// from one thread at a time (setup, then the datapath thread).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "rfab/collectives/roce_transport.hpp"
#include "rfab/rc/types.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::coll {

struct RoceMr {
  uint32_t lkey = 0, rkey = 0;
  uint64_t va = 0;  // the address a peer's RDMA WRITE names (the virtual address for both providers)
};

struct RoceQpSetup {
  int peer = -1;
  uint32_t max_send_wr = 0, max_recv_wr = 0;
  uint32_t max_outstanding = 0;  // packets in flight (udp: the RC engine's window; verbs: the device decides)
};

struct RoceQpConnect {
  udp::Address peer;  // the peer's RoCE address (ip + UDP port; verbs derives the GID from the ip)
  uint32_t qpn = 0, psn = 0;  // the peer's QP and the first PSN it sends
  uint32_t sq_psn = 0;        // the first PSN we send
  uint32_t mtu = 1024;        // agreed path MTU, bytes
  uint8_t ack_timeout = 16;   // IBTA code
};

class RoceProvider {
 public:
  virtual ~RoceProvider() = default;
  virtual std::string name() const = 0;  // "udp" or "verbs rxe0", for messages
  // The address peers send to (published through the store).
  virtual udp::Address local() const = 0;
  // The largest path MTU (bytes) this side can use, given what the options ask for.
  virtual uint32_t max_mtu(uint32_t wanted) const = 0;
  virtual RoceMr reg_mr(void* addr, size_t len, uint32_t access) = 0;
  // Creates the QP towards `s.peer` in INIT (remote write allowed) and returns its number. Completion
  // queues are sized on the first call for `npeers` QPs.
  virtual uint32_t create_qp(const RoceQpSetup& s, size_t npeers) = 0;
  virtual void connect_qp(int peer, const RoceQpConnect& c) = 0;  // RTR, RTS; throws Error naming the step
  virtual rc::Status post_send(int peer, const rc::SendWr& wr) = 0;
  virtual rc::Status post_recv(int peer, const rc::RecvWr& wr) = 0;
  virtual bool qp_in_error(int peer) const = 0;
  // Moves the QP to the error state: it transmits nothing more (so reads no send buffer again) and its
  // outstanding work requests complete flushed.
  virtual void fail_qp(int peer) = 0;
  // An lkey under which send SGEs may name any address of this process, or 0 when memory has to be
  // registered first. rfab's RC engine runs in this process and reads memory directly (like an implicit
  // on-demand-paging MR on an RNIC), so the transport can send straight from the caller's buffers.
  virtual uint32_t any_memory_lkey() { return 0; }
  virtual size_t poll_send(std::span<rc::WorkCompletion> out) = 0;
  virtual size_t poll_recv(std::span<rc::WorkCompletion> out) = 0;
  virtual int peer_of(uint32_t qpn) const = 0;  // -1 when unknown
  // Moves packets and timers; with max_wait_ns > 0 sleeps until a packet, a completion, a timer, wake() or
  // the wait ends. True when something happened.
  virtual bool progress(uint64_t max_wait_ns) = 0;
  virtual uint64_t now() const = 0;  // nanoseconds, monotonic
  virtual void wake() = 0;           // any thread: ends a progress() sleep
  virtual void print_debug(std::FILE* f, int rank) const = 0;  // RFAB_ROCE_DEBUG counters
};

// udp: binds opt.local_ip:opt.port. Throws Error(System) naming the rank on failure.
std::unique_ptr<RoceProvider> make_udp_provider(const RoceOptions& opt, int rank);
// verbs: opens opt.device (or the automatically chosen one). Throws Error naming the device and why; throws
// Error(InvalidArgument) when rfab was built without libibverbs.
std::unique_ptr<RoceProvider> make_verbs_provider(const RoceOptions& opt, int rank);
// opt.transport: "udp", "verbs", or "auto" (verbs when an RDMA device with a usable RoCE v2 port is present).
std::unique_ptr<RoceProvider> make_roce_provider(const RoceOptions& opt, int rank);
// True when an RDMA device with a RoCE v2 port is usable (false without libibverbs).
bool verbs_device_present();

}  // namespace rfab::coll
