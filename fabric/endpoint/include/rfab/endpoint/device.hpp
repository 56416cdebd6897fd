// The RDMA device interface every user of RC queue pairs in rfab programs against: register memory,
// create and connect RC QPs, post work requests, poll completions, move packets and time, sleep and be
// woken, read counters. One interface, several implementations:
//
//   engine device (engine_device.hpp): rfab's own RC engine (fabric/rc, sans-IO) driven by a packet
//                 driver that moves its packets (packet_driver.hpp; kernel UDP sockets today);
//   verbs device  (verbs_device.hpp):  an RDMA device through libibverbs (an RNIC or Linux rxe), where the
//                 device is the protocol engine.
//
// Both speak RoCE v2 RC on the wire, so any two of them interoperate. A new packet datapath (AF_XDP,
// DPDK) is one more PacketDriver; a new kind of device is one more Device. QPs are brought up only through
// connect.hpp (the INIT -> RTR -> RTS ladder), never by calling modify_qp by hand.
//
// Every QP of a device completes into the device's two completion queues (one for sends, one for
// receives), sized once by create_cqs(). Threading: every call except wake() comes from one thread at a
// time (the thread that owns the device).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "rfab/congestion/controller.hpp"
#include "rfab/base/time.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/rc/types.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::endpoint {

// Every failure to set up a device, memory or a QP. The message names the device and the step.
struct EndpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Gid = udp::Gid;  // a RoCE address as rdma_cm and perftest exchange it (IPv4-mapped for IPv4)

// A registered memory region as a peer and the local SGEs name it.
struct MemoryKey {
  uint32_t lkey = 0, rkey = 0;
  uint64_t addr = 0;  // the address remote work requests name (the virtual address, as ibv_reg_mr)
};

struct QpConfig {
  rc::QpCap cap;                 // send/receive queue depths and SGEs per work request
  uint32_t qp_num = 0;           // engine: the QPN to use (1..2^24-1), 0 = the device picks; verbs: ignored
  uint32_t max_outstanding = 0;  // engine: unacknowledged packets in flight, 0 = engine default; verbs: ignored
  // engine: packets the responder holds ahead of a hole when spraying or recovering selectively (<= 1024;
  // each costs a packet buffer); it also bounds the requester's window then. 0 = engine default.
  uint16_t reorder_window = 0;
  // engine, selective recovery: how long the responder lets a hole stay open before it NAKs it as lost, to
  // start with (rc::QpTuning::reorder_time; 0 = the engine's default). Verbs: ignored.
  Nanos reorder_time = 0;
  // The requester's congestion control, as `--cc` takes it: "none" or "dcqcn[:key=value,...]"
  // (congestion/factory.hpp). Engine: a controller per QP, paced by the packet driver. Verbs: only "none"
  // (the NIC runs its own, configured with the vendor's tools).
  std::string cc = "none";
  double line_bps = 100e9;  // the rate the controller starts from and never exceeds
};

// What a device counts. Devices that cannot see their packets (verbs: the NIC moves them) say so, and
// leave the packet counters at 0.
struct DeviceCounters {
  bool sees_packets = false;
  uint64_t tx_packets = 0, rx_packets = 0, tx_bytes = 0, rx_bytes = 0;
  uint64_t tx_syscalls = 0, rx_syscalls = 0, tx_dropped = 0;
  uint64_t rx_bad_icrc = 0, rx_unknown_qp = 0, rx_malformed = 0;
  // Datapath-specific counters by name (AF_XDP: zero_copy 0/1, wakeups, XDP steering; DPDK: port stats).
  std::vector<std::pair<std::string, uint64_t>> datapath;
};

// What a device can do beyond IBTA RC. A connection uses an extension only when both ends have it (their
// side channel says so).
struct DeviceCaps {
  bool selective_recovery = false;  // LossRecovery::selective
  bool spray = false;               // EntropyPolicy spray/flowlet over several UDP source ports
  bool congestion_control = false;  // QpConfig::cc other than "none"
};

class Device {
 public:
  virtual ~Device() = default;
  virtual DeviceCaps caps() const = 0;

  virtual std::string name() const = 0;  // "kernel UDP 10.0.0.1:4791", "verbs rxe0 port 1 GID 1"
  // This side's RoCE address: IP and the UDP port peers send to (4791 on a verbs device).
  virtual udp::Address address() const = 0;
  // The same as a GID (IPv4-mapped for IPv4), as perftest and rdma_cm exchange it.
  virtual Gid gid() const = 0;
  // The largest path MTU in bytes this side can use when `wanted` is asked for.
  virtual uint32_t max_mtu(uint32_t wanted) const = 0;

  // ibv_reg_mr. Access flags are rc::Access values. Throws EndpointError. The region stays registered
  // for the device's lifetime.
  virtual MemoryKey reg_mr(void* addr, size_t len, uint32_t access) = 0;
  // ibv_dereg_mr of a region reg_mr returned: packets naming its rkey afterwards get a remote access error.
  // Throws EndpointError for a key that is not registered.
  virtual void dereg_mr(const MemoryKey& key) = 0;
  // An lkey under which send SGEs may name any address of this process, or 0 when memory has to be
  // registered first. rfab's engine runs in this process and reads memory directly (as an implicit
  // on-demand-paging MR would on an RNIC), so callers can send straight from unregistered buffers.
  virtual uint32_t any_memory_lkey() { return 0; }

  // Creates the send and receive completion queues every QP of this device shares. Once, before the
  // first create_qp. Throws EndpointError.
  virtual void create_cqs(size_t send_entries, size_t recv_entries) = 0;
  // Creates an RC QP in RESET and returns its QPN. Throws EndpointError.
  virtual uint32_t create_qp(const QpConfig& config) = 0;
  // ibv_modify_qp on one QP; `peer` (the peer's RoCE address) comes with the move to RTR. Used by
  // connect.hpp's ladder and to move a QP to ERR; throws EndpointError naming `step`.
  virtual void modify_qp(uint32_t qpn, const rc::QpAttr& attr, uint32_t mask, const udp::Address* peer,
                         const char* step) = 0;
  virtual rc::QpState qp_state(uint32_t qpn) const = 0;
  // The engine's per-QP protocol counters; zeros on a device that does not expose them.
  virtual rc::QpStats qp_stats(uint32_t qpn) const = 0;
  // What the QP's congestion controller has done; zeros on a device whose NIC keeps it.
  virtual cc::ControllerStats qp_cc(uint32_t qpn) const = 0;
  // Per entropy (UDP source port) of the QP: packets, feedback, what the adaptive policy did. Empty on a
  // device whose NIC chooses the ports.
  virtual std::vector<rc::PathStats> qp_paths(uint32_t) const { return {}; }

  virtual rc::Status post_send(uint32_t qpn, const rc::SendWr& wr) = 0;
  virtual rc::Status post_recv(uint32_t qpn, const rc::RecvWr& wr) = 0;
  virtual size_t poll_send(std::span<rc::WorkCompletion> out) = 0;
  virtual size_t poll_recv(std::span<rc::WorkCompletion> out) = 0;

  // Moves packets and timers. With max_wait > 0 and nothing to do, sleeps until a packet, a completion,
  // a timer, wake() or the end of the wait. True when something happened.
  virtual bool progress(Nanos max_wait) = 0;
  virtual Nanos now() const = 0;  // monotonic nanoseconds
  virtual void wake() = 0;        // any thread: ends a progress() sleep
  virtual DeviceCounters counters() const = 0;
};

// Moves QP `qpn` to ERR: it transmits nothing more and its outstanding work requests complete flushed.
// Best effort (a QP already in ERR stays there); never throws.
void fail_qp(Device& dev, uint32_t qpn) noexcept;

}  // namespace rfab::endpoint
