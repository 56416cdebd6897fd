// Runs RC queue pairs (rfab::rc, sans-IO) over a FramePort: the same job as the kernel-UDP driver, with the
// Ethernet/IP/UDP headers written and read here instead of by the kernel.
//
//   transmit: QPs round-robin, each when its pacing slot has come; the engine writes each packet straight
//             into a port buffer behind the headers (frame_codec.hpp adds them, with the ICRC over the real
//             IP header, IPv4 ID 0, DF); frames go to the port in bursts.
//   receive : frames in bursts; RoCE v2 to our address and port has its ICRC checked exactly and goes to
//             the QP named by the BTH destination QPN; ARP is answered when the driver owns ARP; the rest
//             is counted and dropped (a port that shares its interface with the kernel gives the kernel
//             everything else before it gets here).
//   peers   : the next hop's MAC comes from a resolver (the kernel's neighbour table for AF_XDP) or from
//             ARP through the port itself (DPDK), when a QP is attached.
//   waiting : epoll on the port's fd and an eventfd (wake()), or polling when the port has no fd.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "rfab/base/time.hpp"
#include "rfab/fault/fault_config.hpp"
#include "rfab/frame/frame_codec.hpp"
#include "rfab/frame/frame_port.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::fault {
class FaultInjector;
}

namespace rfab::frame {

// The MAC of the next hop towards `peer`; throws FrameError naming the peer when it cannot be found.
using NeighbourResolver = std::function<Mac(const udp::Address& peer)>;

struct FrameDriverConfig {
  udp::Address local;                 // our IP and the RoCE port peers send to (4791)
  bool verify_icrc = true;            // drop received packets whose ICRC does not match
  bool udp_checksum_v4 = false;       // IPv4: compute the UDP checksum (IPv6 always has one)
  bool own_arp = false;               // answer ARP for `local` and resolve peers by ARP through the port
  NeighbourResolver resolve;          // used when !own_arp
  Nanos arp_timeout = 3'000'000'000;  // own_arp: how long attach() waits for a peer's ARP reply
  std::optional<fault::FaultConfig> rx_faults;  // seeded faults on the receive path (tests)
  Nanos pacing_slack = 50'000;        // a packet may leave this early relative to its pacing slot
  Nanos spin = 0;                     // with an fd to sleep on: poll this long before sleeping
};

struct FrameDriverStats {
  uint64_t tx_packets = 0, tx_bytes = 0, rx_packets = 0, rx_bytes = 0;
  uint64_t tx_no_buffer = 0;   // transmit rounds cut short because the port had no free buffer
  uint64_t rx_bad_icrc = 0, rx_unknown_qp = 0, rx_malformed = 0;
  uint64_t rx_not_roce = 0;    // frames that were not RoCE v2 to our address (and not ARP we answer)
  uint64_t arp_requests = 0, arp_replies = 0;  // sent
};

class FrameDriver {
 public:
  // Throws FrameError on a bad configuration.
  FrameDriver(const FrameDriverConfig& cfg, std::unique_ptr<FramePort> port);
  ~FrameDriver();
  FrameDriver(const FrameDriver&) = delete;
  FrameDriver& operator=(const FrameDriver&) = delete;

  // Resolves the peer's MAC (may wait for ARP) and starts moving `qp`'s packets. Throws FrameError when the
  // peer cannot be reached or the QP's path MTU does not fit the port's frames.
  void attach(rc::QueuePair& qp, const udp::Address& peer);
  void detach(uint32_t qp_num);
  bool progress(Nanos max_wait);
  void wake();  // any thread
  Nanos now() const;
  const udp::Address& local() const { return cfg_.local; }
  // The largest RoCE path MTU (256 .. 4096) whose packets fit the port's frames.
  uint32_t max_mtu() const;
  const FrameDriverStats& stats() const { return stats_; }
  const FramePort& port() const { return *port_; }

 private:
  struct Attached {
    rc::QueuePair* qp;
    udp::Address peer;
    HeaderTemplate hdr;
  };
  Mac neighbour(const udp::Address& peer);
  Mac arp_resolve(const udp::Address& peer);
  void send_arp(const struct ArpPacket& p);
  size_t receive(Nanos now);
  void handle_frame(Nanos now, std::span<const uint8_t> frame);
  void deliver(Nanos now, const udp::Address& src, std::span<const uint8_t> payload, bool ce);
  size_t transmit(Nanos now, Nanos& wake);
  void sleep(Nanos now, Nanos until);

  FrameDriverConfig cfg_;
  std::unique_ptr<FramePort> port_;
  Mac mac_;
  std::vector<Attached> qps_;
  std::unordered_map<uint32_t, size_t> by_qpn_;
  std::map<udp::Address, Mac> neighbours_;  // by IP (port 0)
  std::vector<std::span<const uint8_t>> rx_;
  std::unique_ptr<fault::FaultInjector> faults_;
  std::vector<udp::Address> fault_srcs_;
  int epoll_fd_ = -1, wake_fd_ = -1;
  std::atomic<bool> woken_{false};  // ports without an fd: wake() sets it, the polling wait clears it
  size_t rr_ = 0;
  FrameDriverStats stats_;
};

}  // namespace rfab::frame
