#include "rfab/udp/rx_batch.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#include "rfab/udp/error.hpp"

namespace rfab::udp {

RxBatch::RxBatch(const UdpSocket& sock) : sock_(&sock), buf_(kMaxMessages * kBufferBytes) {}

size_t RxBatch::receive(std::vector<RxDatagram>& out) {
  out.clear();
  for (size_t i = 0; i < kMaxMessages; ++i) {
    iov_[i] = iovec{buf_.data() + i * kBufferBytes, kBufferBytes};
    msghdr& h = hdrs_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &addr_[i];
    h.msg_namelen = sizeof addr_[i];
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = control_[i].data();
    h.msg_controllen = control_[i].size();
  }
  int r;
  do {
    r = ::recvmmsg(sock_->fd(), hdrs_.data(), kMaxMessages, MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  ++counters_.syscalls;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    throw_errno("recvmmsg on " + sock_->local().to_string(), errno);
  }
  for (int i = 0; i < r; ++i) {
    const msghdr& h = hdrs_[i].msg_hdr;
    const size_t len = hdrs_[i].msg_len;
    if (h.msg_flags & MSG_TRUNC) {
      ++counters_.truncated;
      continue;
    }
    size_t seg = len;
    bool ce = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
        int gso = 0;
        std::memcpy(&gso, CMSG_DATA(c), sizeof gso);
        if (gso > 0) seg = static_cast<size_t>(gso);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        ce = (*CMSG_DATA(c) & 3) == 3;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        int tclass = 0;
        std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
        ce = (tclass & 3) == 3;
      }
    }
    const Address src = Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr_[i]));
    const uint8_t* p = buf_.data() + static_cast<size_t>(i) * kBufferBytes;
    for (size_t off = 0; off < len; off += seg) {
      const size_t n = len - off < seg ? len - off : seg;
      out.push_back(RxDatagram{{p + off, n}, src, ce});
      counters_.bytes += n;
    }
  }
  counters_.datagrams += out.size();
  return out.size();
}

}  // namespace rfab::udp
