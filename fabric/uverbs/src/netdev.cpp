#include "netdev.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace rfab::uverbs {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool link_local6(const in6_addr& a) { return a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80; }

std::optional<udp::Address> first_address(const std::string& name) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<udp::Address> v4, v6;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || name != i->ifa_name) continue;
    if (i->ifa_addr->sa_family == AF_INET && !v4) {
      v4 = udp::Address::from_sockaddr(i->ifa_addr);
    } else if (i->ifa_addr->sa_family == AF_INET6 && !v6) {
      // Link-local addresses need a scope on every socket call; RoCE peers use routable ones.
      if (!link_local6(reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr))
        v6 = udp::Address::from_sockaddr(i->ifa_addr);
    }
  }
  ::freeifaddrs(list);
  std::optional<udp::Address> a = v4 ? v4 : v6;
  if (a) a->port = 4791;
  return a;
}

}  // namespace

std::optional<Netdev> read_netdev(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return std::nullopt;
  const unsigned idx = ::if_nametoindex(name.c_str());
  if (idx == 0) return std::nullopt;
  Netdev d;
  d.name = name;
  d.ifindex = idx;
  Fd s{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (s.fd >= 0) {
    ifreq r{};
    std::strncpy(r.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(s.fd, SIOCGIFMTU, &r) == 0) d.mtu = static_cast<uint32_t>(r.ifr_mtu);
    if (::ioctl(s.fd, SIOCGIFHWADDR, &r) == 0) std::memcpy(d.mac.data(), r.ifr_hwaddr.sa_data, 6);
    if (::ioctl(s.fd, SIOCGIFFLAGS, &r) == 0) d.up = (r.ifr_flags & IFF_UP) && (r.ifr_flags & IFF_RUNNING);
  }
  d.addr = first_address(name);
  return d;
}

std::vector<std::string> default_netdevs() {
  std::vector<std::string> out;
  struct if_nameindex* names = ::if_nameindex();
  if (names == nullptr) return out;
  for (struct if_nameindex* n = names; n->if_index != 0; ++n) {
    const std::optional<Netdev> d = read_netdev(n->if_name);
    if (!d || !d->up || !d->addr || std::string(n->if_name) == "lo") continue;
    out.push_back(n->if_name);
  }
  ::if_freenameindex(names);
  return out;
}

uint8_t roce_mtu_for(uint32_t ip_mtu, bool v6) {
  // IP + UDP + BTH + RETH + ICRC around the payload (the largest request header an MTU-sized packet has).
  const uint32_t overhead = (v6 ? 40u : 20u) + 8u + 12u + 16u + 4u;
  uint8_t best = 0;
  for (uint8_t m = 1; m <= 5; ++m)
    if ((128u << m) + overhead <= ip_mtu) best = m;
  return best;
}

uint64_t guid_from_mac(const std::array<uint8_t, 6>& mac) {
  const uint8_t b[8] = {static_cast<uint8_t>(mac[0] ^ 2), mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]};
  uint64_t g;
  std::memcpy(&g, b, 8);  // already in wire (network) order
  return g;
}

}  // namespace rfab::uverbs
