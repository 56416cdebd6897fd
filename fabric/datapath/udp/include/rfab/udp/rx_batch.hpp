// Receives up to kMaxMessages datagrams per recvmmsg and splits UDP GRO super-datagrams back into the
// RoCE packets they were coalesced from (the kernel reports the segment size in a UDP_GRO control message).
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rfab/udp/address.hpp"
#include "rfab/udp/socket.hpp"

namespace rfab::udp {

struct RxDatagram {
  std::span<const uint8_t> data;  // one UDP payload (one RoCE packet), valid until the next receive()
  Address src;                    // sender address and UDP source port
  bool ecn_ce = false;            // the IP header carried ECN Congestion Experienced
};

struct RxCounters {
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t syscalls = 0;
  uint64_t truncated = 0;  // larger than the receive buffer (MSG_TRUNC): dropped
};

class RxBatch {
 public:
  static constexpr size_t kMaxMessages = 32;
  static constexpr size_t kBufferBytes = 65536;  // one GRO super-datagram at most

  explicit RxBatch(const UdpSocket& sock);
  // Non-blocking: appends what is queued on the socket to `out` (cleared first). Returns packets read.
  size_t receive(std::vector<RxDatagram>& out);
  const RxCounters& counters() const { return counters_; }

 private:
  const UdpSocket* sock_;
  std::vector<uint8_t> buf_;
  std::array<iovec, kMaxMessages> iov_{};
  std::array<sockaddr_storage, kMaxMessages> addr_{};
  std::array<std::array<uint8_t, 64>, kMaxMessages> control_{};
  std::array<mmsghdr, kMaxMessages> hdrs_{};
  RxCounters counters_;
};

}  // namespace rfab::udp
