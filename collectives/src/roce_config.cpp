// RoCE transport settings from the environment, and the endpoint record ranks exchange through the store.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "rfab/base/env.hpp"
#include "rfab/base/units.hpp"
#include "rfab/collectives/roce_transport.hpp"
#include "rfab/collectives/types.hpp"
#include "rfab/congestion/factory.hpp"
#include "rfab/fault/fault_config.hpp"
#include "roce_window.hpp"

namespace rfab::coll {

namespace {

// Set and non-empty, else nullptr (registered in rfab/base/env.hpp).
const char* env(const char* name) { return env::is_set(name) ? env::raw(name) : nullptr; }

// An integer in [lo, hi] (decimal or 0x hex); the error names the variable and `expect`.
unsigned long long env_number(const char* name, const char* v, unsigned long long lo, unsigned long long hi,
                              const char* expect) {
  try {
    return parse_u64(v, {}, lo, hi);
  } catch (const ParseError&) {
    throw Error(Status::InvalidArgument, std::string(name) + "='" + v + "': expected " + expect);
  }
}

bool same_ip(const sockaddr* sa, const std::string& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  } else {
    return false;
  }
  return ip == buf;
}

// The first address of interface `ifname` (IPv4 preferred); throws naming the interface.
std::string iface_ip(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) throw_errno("getifaddrs");
  std::string v4, v6;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || ifname != a->ifa_name) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET && v4.empty()) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
      v4 = buf;
    } else if (a->ifa_addr->sa_family == AF_INET6 && v6.empty()) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) continue;  // needs a scope id the datapath does not carry
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
      v6 = buf;
    }
  }
  freeifaddrs(list);
  if (!v4.empty()) return v4;
  if (!v6.empty()) return v6;
  throw Error(Status::InvalidArgument, "RFAB_ROCE_IFACE='" + ifname + "': no such interface, or it has no address");
}

// The MTU of the interface that holds `ip` (0 when not found).
int iface_mtu_of(const std::string& ip) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return 0;
  int mtu = 0;
  for (ifaddrs* a = list; a != nullptr && mtu == 0; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || !same_ip(a->ifa_addr, ip)) continue;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    ifreq req{};
    std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", a->ifa_name);
    if (ioctl(fd, SIOCGIFMTU, &req) == 0) mtu = req.ifr_mtu;
    close(fd);
  }
  freeifaddrs(list);
  return mtu;
}

// The largest RoCE MTU whose biggest packet (payload + IP/UDP/BTH/RETH/ImmDt/ICRC, 84 B over IPv6)
// passes the link without fragmentation: the datapath sends with DF set.
uint32_t roce_mtu_for_link(int link_mtu) {
  if (link_mtu <= 0) return 1024;
  for (uint32_t m = 4096; m > 256; m /= 2)
    if (static_cast<int>(m) + 96 <= link_mtu) return m;
  return 256;
}

}  // namespace

RoceOptions RoceOptions::from_env(const std::string& fallback_ip, int local_index, std::chrono::milliseconds timeout) {
  RoceOptions o;
  o.timeout = timeout;
  if (const char* a = env("RFAB_ROCE_ADDR")) {
    in6_addr tmp{};
    if (inet_pton(AF_INET, a, &tmp) != 1 && inet_pton(AF_INET6, a, &tmp) != 1)
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_ADDR='") + a + "': not a numeric IPv4 or IPv6 address");
    o.local_ip = a;
  } else if (const char* i = env("RFAB_ROCE_IFACE")) {
    o.local_ip = iface_ip(i);
    o.iface = i;
  } else {
    o.local_ip = fallback_ip;
  }
  if (o.local_ip.empty())
    throw Error(Status::InvalidArgument, "no local address for RoCE: set RFAB_ROCE_ADDR or RFAB_ROCE_IFACE");
  if (const char* p = env("RFAB_ROCE_PORT")) {
    auto base = env_number("RFAB_ROCE_PORT", p, 1, 65535, "a UDP port 1..65535 (ranks on one IP add their local index)");
    if (base + static_cast<unsigned long long>(local_index) > 65535)
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_PORT='") + p + "' + local rank " +
                                               std::to_string(local_index) + " exceeds 65535");
    o.port = static_cast<uint16_t>(base + static_cast<unsigned long long>(local_index));
  }
  if (const char* r = env("RFAB_ROCE_RING_BYTES")) {
    auto b = env_number("RFAB_ROCE_RING_BYTES", r, roce::kMinRingBytes, roce::kMaxRingBytes,
                        "a power of two in [64 KiB, 256 MiB]");
    if ((b & (b - 1)) != 0)
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_RING_BYTES='") + r + "': not a power of two");
    o.ring_bytes = static_cast<size_t>(b);
  }
  if (const char* m = env("RFAB_ROCE_MTU")) {
    auto v = env_number("RFAB_ROCE_MTU", m, 256, 4096, "256, 512, 1024, 2048 or 4096");
    if ((v & (v - 1)) != 0)
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_MTU='") + m + "': expected 256, 512, 1024, 2048 or 4096");
    o.mtu = static_cast<uint32_t>(v);
  } else {
    o.mtu = roce_mtu_for_link(iface_mtu_of(o.local_ip));
  }
  if (const char* w = env("RFAB_ROCE_WRITE_BYTES"))
    o.write_bytes = static_cast<size_t>(env_number("RFAB_ROCE_WRITE_BYTES", w, 4096, size_t{1} << 30, "4096 .. 2^30"));
  if (const char* v = env("RFAB_ROCE_SPIN_US"))
    o.spin_ns = env_number("RFAB_ROCE_SPIN_US", v, 0, 1000000, "0 .. 1000000 microseconds") * 1000;
  if (const char* v = env("RFAB_ROCE_VERIFY_ICRC")) {
    const std::string s(v);
    if (s != "0" && s != "1")
      throw Error(Status::InvalidArgument, "RFAB_ROCE_VERIFY_ICRC='" + s + "': expected 0 or 1");
    o.verify_icrc = s == "1";
  }
  if (const char* v = env("RFAB_ROCE_ZERO_COPY_MIN")) {
    o.zero_copy_min = std::string(v) == "off"
                          ? SIZE_MAX
                          : static_cast<size_t>(env_number("RFAB_ROCE_ZERO_COPY_MIN", v, 0, size_t{1} << 40,
                                                           "a message size in bytes, or off"));
  }
  if (const char* v = env("RFAB_ROCE_LANDING_MIN")) {
    o.landing_min = std::string(v) == "off"
                        ? SIZE_MAX
                        : static_cast<size_t>(env_number("RFAB_ROCE_LANDING_MIN", v, 1, size_t{1} << 40,
                                                         "a message size in bytes, or off"));
  }
  if (const char* v = env("RFAB_ROCE_FAULTS")) {
    try {
      (void)fault::parse_fault(v);
    } catch (const std::exception& e) {
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_FAULTS='") + v + "': " + e.what());
    }
    o.rx_faults = v;
  }
  if (const char* v = env("RFAB_ROCE_INLINE")) {
    const std::string s(v);
    if (s != "0" && s != "1")
      throw Error(Status::InvalidArgument, "RFAB_ROCE_INLINE='" + s + "': expected 0 or 1");
    o.inline_progress = s == "1";
  }
  if (const char* v = env("RFAB_TRANSPORT")) {
    const std::string s(v);
    if (s != "auto" && s != "udp" && s != "verbs")
      throw Error(Status::InvalidArgument, "RFAB_TRANSPORT='" + s + "': expected udp, verbs or auto");
    o.transport = s;
  }
  if (const char* v = env("RFAB_DATAPATH")) {
    const std::string s(v);
    if (s != "udp" && s != "afxdp" && s != "dpdk" && s != "verbs")
      throw Error(Status::InvalidArgument, "RFAB_DATAPATH='" + s + "': expected udp, afxdp, dpdk or verbs");
    if (s == "verbs") {
      if (o.transport == "udp")
        throw Error(Status::InvalidArgument, "RFAB_DATAPATH=verbs contradicts RFAB_TRANSPORT=udp");
      o.transport = "verbs";
    } else {
      if (o.transport == "verbs")
        throw Error(Status::InvalidArgument, "RFAB_DATAPATH=" + s + " runs rfab's engine, RFAB_TRANSPORT=verbs an RDMA device");
      if (s != "udp") o.transport = "udp";  // rfab's engine, with another packet datapath
      o.datapath = s;
    }
  }
  if (const char* v = env("RFAB_DPDK_ARGS")) o.dpdk_args = v;
  if (const char* v = env("RFAB_ROCE_CC")) {
    try {
      (void)cc::make_controller(v, 100e9);
    } catch (const std::exception& e) {
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_CC='") + v + "': " + e.what());
    }
    o.cc = v;
  }
  if (const char* v = env("RFAB_ROCE_LINE_RATE")) {
    try {
      o.line_bps = parse_rate_bps(v, "RFAB_ROCE_LINE_RATE");
    } catch (const ParseError& e) {
      throw Error(Status::InvalidArgument, e.what());
    }
    if (!(o.line_bps > 0)) throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_LINE_RATE='") + v + "': must be above 0");
  }
  if (const char* v = env("RFAB_ROCE_SPRAY"))
    o.spray = static_cast<uint32_t>(env_number("RFAB_ROCE_SPRAY", v, 1, 256, "a number of entropies, 1..256"));
  if (const char* v = env("RFAB_ROCE_ADAPTIVE")) {
    const std::string s(v);
    if (s != "0" && s != "1") throw Error(Status::InvalidArgument, "RFAB_ROCE_ADAPTIVE='" + s + "': expected 0 or 1");
    o.adaptive = s == "1";
  }
  if (o.adaptive && o.spray < 2)
    throw Error(Status::InvalidArgument, "RFAB_ROCE_ADAPTIVE=1 steers a spray: set RFAB_ROCE_SPRAY to 2 or more");
  if (const char* v = env("RFAB_ROCE_RECOVERY")) {
    const std::string s(v);
    if (s != "selective" && s != "go-back-n")
      throw Error(Status::InvalidArgument, "RFAB_ROCE_RECOVERY='" + s + "': expected selective or go-back-n");
    o.selective = s == "selective";
  }
  if (const char* v = env("RFAB_ROCE_DEVICE")) {
    if (o.transport == "udp")
      throw Error(Status::InvalidArgument, std::string("RFAB_ROCE_DEVICE='") + v +
                                               "' names an RDMA device, but RFAB_TRANSPORT=udp");
    o.device = v;
  }
  return o;
}

std::string RoceEndpoint::encode() const {
  std::ostringstream s;
  s << "roce2 " << rank << ' ' << ip << ' ' << port << ' ' << mtu << ' ' << ring_bytes << ' '
    << (selective ? 1 : 0) << ' ' << qps.size();
  for (const auto& q : qps) s << ' ' << q.peer << ':' << q.qpn << ':' << q.psn << ':' << q.ring_va << ':' << q.rkey;
  return s.str();
}

RoceEndpoint RoceEndpoint::decode(const std::string& text) {
  std::istringstream s(text);
  RoceEndpoint e;
  std::string magic;
  size_t n = 0;
  unsigned port = 0;
  unsigned flags = 0;
  s >> magic >> e.rank >> e.ip >> port >> e.mtu >> e.ring_bytes;
  if (magic == "roce2") s >> flags;
  s >> n;
  e.selective = (flags & 1) != 0;
  if (!s || (magic != "roce1" && magic != "roce2") || port > 65535 || flags > 1 || n > (1u << 24))
    throw Error(Status::Internal, "malformed RoCE endpoint record: '" + text.substr(0, 120) + "'");
  e.port = static_cast<uint16_t>(port);
  for (size_t i = 0; i < n; ++i) {
    Qp q;
    char c1 = 0, c2 = 0, c3 = 0, c4 = 0;
    s >> q.peer >> c1 >> q.qpn >> c2 >> q.psn >> c3 >> q.ring_va >> c4 >> q.rkey;
    if (!s || c1 != ':' || c2 != ':' || c3 != ':' || c4 != ':')
      throw Error(Status::Internal, "malformed QP entry " + std::to_string(i) + " in the RoCE endpoint of rank " +
                                        std::to_string(e.rank));
    e.qps.push_back(q);
  }
  return e;
}

const RoceEndpoint::Qp* RoceEndpoint::qp_to(int peer) const {
  for (const auto& q : qps)
    if (q.peer == peer) return &q;
  return nullptr;
}

}  // namespace rfab::coll
