// One bound, non-blocking UDP socket set up for RoCE v2: unconnected, IP_PMTUDISC_DO (DF set, so the kernel
// writes a predictable IPv4 ID: see wire_icrc.hpp), ECN-capable TOS, UDP_GRO on receive, optional busy
// polling. A socket has one source port, and the source port is the packet's ECMP entropy, so a datapath
// that sends on N entropies binds N sockets.
#pragma once
#include <cstdint>

#include "rfab/udp/address.hpp"

namespace rfab::udp {

struct SocketOptions {
  bool gro = true;                // UDP_GRO: the kernel may hand us several coalesced datagrams at once
  int busy_poll_us = 0;           // SO_BUSY_POLL (0 = off)
  int buffer_bytes = 8 << 20;     // SO_SNDBUF / SO_RCVBUF (forced when privileged)
  uint8_t tos = 0x02;             // DSCP << 2 | ECN; ECT(0) by default, like RoCE v2 NICs
  bool reuse_port = false;        // SO_REUSEPORT (several processes on one RoCE port)
};

class UdpSocket {
 public:
  UdpSocket() = default;
  // Binds to `local` (a specific address; port 0 lets the kernel choose). Throws UdpError naming the
  // address and the failing step (EADDRINUSE: "port 4791 on 10.0.0.1 is in use").
  static UdpSocket bind(const Address& local, const SocketOptions& opt = {});
  ~UdpSocket();
  UdpSocket(UdpSocket&& o) noexcept;
  UdpSocket& operator=(UdpSocket&& o) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // The bound address (port filled in when the kernel chose it).
  const Address& local() const { return local_; }

 private:
  int fd_ = -1;
  Address local_;
};

}  // namespace rfab::udp
