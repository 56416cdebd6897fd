#include "interfaces.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace rfab::ncclnet {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

int link_mtu(const std::string& name) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq req{};
  std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", name.c_str());
  const int mtu = ::ioctl(fd, SIOCGIFMTU, &req) == 0 ? req.ifr_mtu : 0;
  ::close(fd);
  return mtu;
}

int link_speed(const std::string& name) {
  std::ifstream f("/sys/class/net/" + name + "/speed");
  int mbps = -1;
  if (f >> mbps && mbps > 0) return mbps;
  return 10000;  // virtual links (veth, lo) report -1 or nothing
}

std::string pci_path(const std::string& name) {
  const std::string link = "/sys/class/net/" + name + "/device";
  char buf[PATH_MAX];
  if (::realpath(link.c_str(), buf) == nullptr) return "";
  return buf;
}

bool default_choice(std::string_view name) { return !starts_with(name, "lo") && !starts_with(name, "docker"); }

}  // namespace

bool IfaceFilter::matches(std::string_view ifname) const {
  bool hit = false;
  for (const std::string& n : names) hit = hit || (exact ? ifname == n : starts_with(ifname, n));
  return hit != exclude;
}

IfaceFilter parse_iface_filter(std::string_view spec) {
  IfaceFilter f;
  if (starts_with(spec, "^")) {
    f.exclude = true;
    spec.remove_prefix(1);
  }
  if (starts_with(spec, "=")) {
    f.exact = true;
    spec.remove_prefix(1);
  }
  if (spec.empty()) throw std::invalid_argument("no interface names");
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const std::string_view name = spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start);
    if (name.empty()) throw std::invalid_argument("an empty interface name in the list");
    if (name.size() >= IFNAMSIZ) throw std::invalid_argument("'" + std::string(name) + "' is longer than an interface name");
    f.names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return f;
}

std::vector<Interface> list_interfaces(const std::optional<IfaceFilter>& filter) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) throw std::runtime_error(std::string("getifaddrs: ") + std::strerror(errno));
  std::vector<Interface> v4, v6;  // per family, in kernel order
  auto known = [](const std::vector<Interface>& v, const char* n) {
    for (const Interface& i : v)
      if (i.name == n) return true;
    return false;
  };
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0) continue;
    const int family = a->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr))
      continue;  // needs a scope id the RoCE datapath does not carry
    std::vector<Interface>& out = family == AF_INET ? v4 : v6;
    if (known(out, a->ifa_name)) continue;
    Interface i;
    i.name = a->ifa_name;
    i.ip = udp::Address::from_sockaddr(a->ifa_addr);
    out.push_back(std::move(i));
  }
  ::freeifaddrs(list);
  std::vector<Interface> all = v4;  // IPv4 first; an interface with only IPv6 comes after
  for (Interface& i : v6)
    if (!known(v4, i.name.c_str())) all.push_back(std::move(i));
  std::vector<Interface> chosen;
  for (Interface& i : all)
    if (filter ? filter->matches(i.name) : default_choice(i.name)) chosen.push_back(i);
  if (chosen.empty() && !filter)
    for (Interface& i : all)
      if (starts_with(i.name, "lo")) chosen.push_back(i);
  for (Interface& i : chosen) {
    i.mtu = link_mtu(i.name);
    i.speed_mbps = link_speed(i.name);
    i.pci_path = pci_path(i.name);
  }
  return chosen;
}

uint32_t roce_mtu_for_link(int link_mtu) {
  if (link_mtu <= 0) return 1024;
  // 96 bytes cover IPv6 (40) + UDP (8) + BTH (12) + RETH (16) + ImmDt (4) + ICRC (4) with room to spare.
  for (uint32_t m = 4096; m > 256; m /= 2)
    if (static_cast<int>(m) + 96 <= link_mtu) return m;
  return 256;
}

}  // namespace rfab::ncclnet
