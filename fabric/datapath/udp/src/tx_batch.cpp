#include "rfab/udp/tx_batch.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "rfab/udp/error.hpp"

namespace rfab::udp {

TxBatch::TxBatch(const UdpSocket& sock, bool gso)
    : sock_(&sock),
      gso_(gso),
      msgs_(std::make_unique<std::array<Message, kMaxMessages>>()),
      iov_(std::make_unique<std::array<iovec, kMaxIov>>()) {}

TxBatch::Message* TxBatch::place(const Address& dst, size_t size, size_t iovs, uint16_t* seg) {
  if (niov_ + iovs > kMaxIov) return nullptr;
  if (nmsg_ > 0) {
    Message& m = (*msgs_)[nmsg_ - 1];
    // Extend the current GSO run: same destination, not closed, no larger than the run's segment size.
    if (gso_ && !m.closed && m.dst == dst && size <= m.seg_size && m.segments < kMaxGsoSegments &&
        m.bytes + size <= kMaxGsoBytes) {
      *seg = static_cast<uint16_t>(m.segments);
      ++m.segments;
      m.bytes += size;
      m.niov += iovs;
      if (size < m.seg_size) m.closed = true;
      return &m;
    }
  }
  if (nmsg_ == kMaxMessages) return nullptr;
  Message& m = (*msgs_)[nmsg_++];
  m.dst = dst;
  dst.to_sockaddr(m.addr);
  m.first_iov = niov_;
  m.niov = iovs;
  m.segments = 1;
  m.seg_size = size;
  m.bytes = size;
  m.closed = false;
  *seg = 0;
  return &m;
}

bool TxBatch::push(const Address& dst, std::span<uint8_t> datagram) {
  uint16_t seg;
  if (place(dst, datagram.size(), 1, &seg) == nullptr) return false;
  fill_icrc(icrc_headers_, sock_->local(), dst, seg, datagram);
  (*iov_)[niov_++] = iovec{datagram.data(), datagram.size()};
  return true;
}

bool TxBatch::push_gather(const Address& dst, std::span<uint8_t> headers, size_t header_len,
                          std::span<const uint8_t> payload) {
  uint16_t seg;
  if (place(dst, header_len + payload.size() + 4, 3, &seg) == nullptr) return false;
  uint8_t* icrc = headers.data() + header_len;
  fill_icrc_gather(icrc_headers_, sock_->local(), dst, seg, headers.first(header_len), payload, icrc);
  (*iov_)[niov_++] = iovec{headers.data(), header_len};
  (*iov_)[niov_++] = iovec{const_cast<uint8_t*>(payload.data()), payload.size()};
  (*iov_)[niov_++] = iovec{icrc, 4};
  return true;
}

void TxBatch::flush(int timeout_ms) {
  if (nmsg_ == 0) return;
  for (size_t i = 0; i < nmsg_; ++i) {
    Message& m = (*msgs_)[i];
    msghdr& h = hdrs_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &m.addr;
    h.msg_namelen = m.dst.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    h.msg_iov = &(*iov_)[m.first_iov];
    h.msg_iovlen = m.niov;
    if (m.segments > 1) {
      // UDP_SEGMENT: the kernel cuts the payload into seg_size pieces, segment i gets IPv4 ID i.
      h.msg_control = m.control;
      h.msg_controllen = sizeof m.control;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = IPPROTO_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const auto seg = static_cast<uint16_t>(m.seg_size);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t done = 0;
  while (done < nmsg_) {
    const int r = ::sendmmsg(sock_->fd(), &hdrs_[done], static_cast<unsigned>(nmsg_ - done), 0);
    ++counters_.syscalls;
    if (r > 0) {
      for (size_t i = done; i < done + static_cast<size_t>(r); ++i) {
        counters_.datagrams += (*msgs_)[i].segments;
        counters_.bytes += (*msgs_)[i].bytes;
      }
      done += static_cast<size_t>(r);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        // The socket buffer stayed full: count the rest as lost; the RC engine retransmits.
        for (size_t i = done; i < nmsg_; ++i) counters_.dropped += (*msgs_)[i].segments;
        break;
      }
      pollfd p{sock_->fd(), POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      continue;
    }
    if (err == ENOBUFS || err == EPERM || err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
      // Transient or policy loss of this message: skip it, keep the rest.
      counters_.dropped += (*msgs_)[done].segments;
      ++done;
      continue;
    }
    const Message& m = (*msgs_)[done];
    nmsg_ = niov_ = 0;
    // EINVAL for a GSO send: the segment size plus headers exceeds the device MTU.
    if (err == EMSGSIZE || (err == EINVAL && m.segments > 1))
      throw UdpError("a " + std::to_string(m.seg_size) + "-byte RoCE packet to " + m.dst.to_string() +
                     " does not fit the path MTU (DF is set): raise the interface MTU or lower --mtu");
    throw_errno("sendmmsg to " + m.dst.to_string(), err);
  }
  nmsg_ = niov_ = 0;
}

}  // namespace rfab::udp
