#include "rfab/udp/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "rfab/udp/error.hpp"

namespace rfab::udp {

std::optional<Address> Address::parse(std::string_view text, uint16_t port) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  Address a;
  a.port = port;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    std::memcpy(a.ip.data(), &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    a.v6 = true;
    std::memcpy(a.ip.data(), &v6, 16);
    return a;
  }
  return std::nullopt;
}

Address Address::parse_or_throw(std::string_view text, uint16_t port, const char* what) {
  auto a = parse(text, port);
  if (!a) throw UdpError(std::string(what) + ": '" + std::string(text) + "' is not a numeric IPv4 or IPv6 address");
  return *a;
}

Address Address::from_sockaddr(const sockaddr* sa) {
  Address a;
  if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.v6 = true;
    std::memcpy(a.ip.data(), &s6->sin6_addr, 16);
    a.port = ntohs(s6->sin6_port);
  } else {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(a.ip.data(), &s4->sin_addr, 4);
    a.port = ntohs(s4->sin_port);
  }
  return a;
}

Address Address::from_gid(const Gid& gid, uint16_t port) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  Address a;
  a.port = port;
  if (std::memcmp(gid.data(), kMapped, 12) == 0) {
    std::memcpy(a.ip.data(), gid.data() + 12, 4);
  } else {
    a.v6 = true;
    a.ip = gid;
  }
  return a;
}

socklen_t Address::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, ip.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  std::memcpy(&s4->sin_addr, ip.data(), 4);
  return sizeof(sockaddr_in);
}

Gid Address::gid() const {
  if (v6) return ip;
  Gid g{};
  g[10] = 0xFF;
  g[11] = 0xFF;
  std::memcpy(g.data() + 12, ip.data(), 4);
  return g;
}

std::string Address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip.data(), buf, sizeof buf);
  return buf;
}

std::string Address::to_string() const {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "[" + std::string&&.
  std::string s;
  if (v6) s += '[';
  s += ip_string();
  if (v6) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

Address source_address_for(const Address& peer) {
  const int fd = ::socket(peer.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("source address lookup: socket", errno);
  sockaddr_storage ss;
  const socklen_t len = peer.with_port(peer.port == 0 ? 9 : peer.port).to_sockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno("no route to " + peer.ip_string(), err);
  }
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
  ::close(fd);
  Address a = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  a.port = 0;
  return a;
}

}  // namespace rfab::udp
