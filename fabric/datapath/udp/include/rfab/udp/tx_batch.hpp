// Batches RoCE v2 datagrams from one socket into as few system calls as possible: runs of equal-size
// datagrams to one destination become one UDP GSO send (the last segment may be shorter), and up to
// kMaxMessages such sends go out in one sendmmsg. Because the IPv4 ID of a GSO segment is its index in the
// send, push() fills in each datagram's ICRC as it places it, so a datagram must be complete (BTH .. pad
// plus the 4-byte ICRC slot) when pushed, and its bytes must stay valid and untouched until flush().
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "rfab/udp/address.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace rfab::udp {

struct TxCounters {
  uint64_t datagrams = 0;  // handed to the kernel
  uint64_t bytes = 0;      // UDP payload bytes handed to the kernel
  uint64_t syscalls = 0;   // sendmmsg calls
  uint64_t dropped = 0;    // refused by the kernel with ENOBUFS / EPERM (treated as loss, RC retransmits)
};

class TxBatch {
 public:
  static constexpr size_t kMaxMessages = 64;
  // Largest UDP payload of one GSO send (IPv4 limit 65507, kept below it).
  static constexpr size_t kMaxGsoBytes = 65000;

  // `sock` must outlive the batch. gso = false sends every datagram on its own (each with IPv4 ID 0).
  explicit TxBatch(const UdpSocket& sock, bool gso = true);

  // Places `datagram` (ICRC slot included) for `dst`, computing its ICRC. Returns false when the batch is
  // full: flush() and push again.
  bool push(const Address& dst, std::span<uint8_t> datagram);
  // Places a gathered datagram (rc::TxPacket with a payload span): `headers` is BTH .. (header_len bytes)
  // followed by the 4-byte ICRC slot, which gets the ICRC; `payload` is sent in place (no copy). All bytes
  // must stay valid and untouched until flush(). Returns false when the batch is full.
  bool push_gather(const Address& dst, std::span<uint8_t> headers, size_t header_len,
                   std::span<const uint8_t> payload);
  // Sends everything queued. Waits (poll, up to `timeout_ms`) while the socket buffer is full. Throws
  // UdpError for errors that are not loss (EMSGSIZE: the path MTU is smaller than the packet).
  void flush(int timeout_ms = 1000);
  size_t queued() const { return nmsg_; }
  bool empty() const { return nmsg_ == 0; }
  const TxCounters& counters() const { return counters_; }

 private:
  struct Message {
    sockaddr_storage addr;
    Address dst;
    size_t first_iov = 0;
    size_t niov = 0;
    size_t segments = 0;
    size_t seg_size = 0;
    size_t bytes = 0;
    bool closed = false;  // a shorter last segment ended the run
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))];
  };
  const UdpSocket* sock_;
  bool gso_;
  size_t nmsg_ = 0;
  size_t niov_ = 0;
  std::unique_ptr<std::array<Message, kMaxMessages>> msgs_;
  static constexpr size_t kMaxIov = 3 * kMaxMessages * kMaxGsoSegments;  // a gathered datagram takes 3
  // The message a datagram of `size` bytes to `dst` joins (a new one when needed), its segment index in
  // *seg; nullptr when the batch is full.
  Message* place(const Address& dst, size_t size, size_t iovs, uint16_t* seg);
  std::unique_ptr<std::array<iovec, kMaxIov>> iov_;
  std::array<mmsghdr, kMaxMessages> hdrs_{};
  IcrcHeaderCache icrc_headers_;  // per (destination, length, GSO segment index)
  TxCounters counters_;
};

}  // namespace rfab::udp
