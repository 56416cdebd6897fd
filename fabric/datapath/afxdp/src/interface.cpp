// Interface facts the AF_XDP datapath needs, from the kernel (ioctl, getifaddrs, sysfs).
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "rfab/afxdp/afxdp.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::afxdp {
namespace {

ifreq request(const std::string& iface, unsigned long op, const char* what) {
  if (iface.size() >= IFNAMSIZ) throw frame::FrameError("interface name '" + iface + "' is too long");
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) frame::throw_errno("socket", errno);
  ifreq r{};
  std::memcpy(r.ifr_name, iface.c_str(), iface.size());
  const int rc = ::ioctl(fd, op, &r);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    if (err == ENODEV) throw frame::FrameError("interface '" + iface + "' does not exist");
    frame::throw_errno(std::string(what) + " of " + iface, err);
  }
  return r;
}

}  // namespace

int interface_index(const std::string& iface) {
  const unsigned idx = ::if_nametoindex(iface.c_str());
  if (idx == 0) throw frame::FrameError("interface '" + iface + "' does not exist (ip link show)");
  return static_cast<int>(idx);
}

frame::Mac interface_mac(const std::string& iface) {
  const ifreq r = request(iface, SIOCGIFHWADDR, "SIOCGIFHWADDR");
  frame::Mac m;
  std::memcpy(m.b.data(), r.ifr_hwaddr.sa_data, 6);
  return m;
}

unsigned interface_mtu(const std::string& iface) {
  return static_cast<unsigned>(request(iface, SIOCGIFMTU, "SIOCGIFMTU").ifr_mtu);
}

unsigned rx_queue_count(const std::string& iface) {
  unsigned n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + iface + "/queues", ec))
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  return n == 0 ? 1 : n;
}

std::string interface_of(const udp::Address& local) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) frame::throw_errno("getifaddrs", errno);
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    const int fam = a->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (udp::Address::from_sockaddr(a->ifa_addr).same_ip(local.with_port(0))) found = a->ifa_name;
  }
  ::freeifaddrs(list);
  if (found.empty())
    throw frame::FrameError("no interface has the address " + local.ip_string() + " (give --iface, or --local)");
  return found;
}

}  // namespace rfab::afxdp
