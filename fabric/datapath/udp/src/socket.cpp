#include "rfab/udp/socket.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "rfab/udp/error.hpp"

namespace rfab::udp {
namespace {

void set_int(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) throw_errno(std::string("setsockopt ") + what, errno);
}

// Privileged processes may exceed net.core.{r,w}mem_max; others get what the sysctl allows.
void set_buffer(int fd, int force_name, int name, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof bytes) != 0)
    ::setsockopt(fd, SOL_SOCKET, name, &bytes, sizeof bytes);
}

}  // namespace

UdpSocket UdpSocket::bind(const Address& local, const SocketOptions& opt) {
  UdpSocket s;
  s.fd_ = ::socket(local.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd_ < 0) throw_errno("socket for " + local.to_string(), errno);
  const int fd = s.fd_;
  if (local.v6) {
    set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, "IPV6_MTU_DISCOVER");
    set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, opt.tos, "IPV6_TCLASS");
    set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
  } else {
    // DF set and an unconnected socket: the kernel writes IPv4 ID 0 (GSO segment i: ID i).
    set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, "IP_MTU_DISCOVER");
    set_int(fd, IPPROTO_IP, IP_TOS, opt.tos, "IP_TOS");
    set_int(fd, IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
  }
  if (opt.gro) set_int(fd, IPPROTO_UDP, UDP_GRO, 1, "UDP_GRO");
  if (opt.busy_poll_us > 0) set_int(fd, SOL_SOCKET, SO_BUSY_POLL, opt.busy_poll_us, "SO_BUSY_POLL");
  if (opt.reuse_port) set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, opt.buffer_bytes);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, opt.buffer_bytes);

  sockaddr_storage ss;
  const socklen_t len = local.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    if (err == EADDRINUSE)
      throw UdpError("UDP port " + std::to_string(local.port) + " on " + local.ip_string() + " is in use");
    if (err == EADDRNOTAVAIL)
      throw UdpError("cannot bind " + local.to_string() + ": the address is not configured on this host");
    throw_errno("bind " + local.to_string(), err);
  }
  sockaddr_storage got{};
  socklen_t glen = sizeof got;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &glen);
  s.local_ = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&got));
  return s;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

UdpSocket::UdpSocket(UdpSocket&& o) noexcept : fd_(o.fd_), local_(o.local_) { o.fd_ = -1; }

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    local_ = o.local_;
    o.fd_ = -1;
  }
  return *this;
}

}  // namespace rfab::udp
