// Link counters over rtnetlink (RTM_GETLINK, IFLA_STATS64) and driver counters over the ethtool ioctl.
#include "rfab/telemetry/netdev_stats.hpp"

#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <memory>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {
namespace {

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::vector<std::pair<std::string, uint64_t>> stats64(const rtnl_link_stats64& s) {
  return {{"rx_packets", s.rx_packets}, {"tx_packets", s.tx_packets}, {"rx_bytes", s.rx_bytes},
          {"tx_bytes", s.tx_bytes},     {"rx_errors", s.rx_errors},   {"tx_errors", s.tx_errors},
          {"rx_dropped", s.rx_dropped}, {"tx_dropped", s.tx_dropped}, {"multicast", s.multicast},
          {"collisions", s.collisions}, {"rx_crc_errors", s.rx_crc_errors},
          {"rx_fifo_errors", s.rx_fifo_errors}, {"rx_missed_errors", s.rx_missed_errors},
          {"tx_fifo_errors", s.tx_fifo_errors}, {"tx_carrier_errors", s.tx_carrier_errors}};
}

std::vector<std::pair<std::string, uint64_t>> link_stats(unsigned ifindex, const std::string& iface) {
  Fd s(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (s.fd < 0) throw TelemetryError(std::string("netlink socket: ") + std::strerror(errno));
  timeval tv{2, 0};  // never wait for the kernel forever
  setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST;
  req.nh.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = static_cast<int>(ifindex);
  if (send(s.fd, &req, sizeof req, 0) < 0) throw TelemetryError(std::string("netlink send: ") + std::strerror(errno));
  std::vector<char> buf(64 * 1024);
  ssize_t n = recv(s.fd, buf.data(), buf.size(), 0);
  if (n < 0) throw TelemetryError("netlink RTM_GETLINK for " + iface + ": " + std::strerror(errno));
  for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nh, static_cast<unsigned>(n));
       nh = NLMSG_NEXT(nh, n)) {
    if (nh->nlmsg_type == NLMSG_ERROR) {
      auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(nh));
      throw TelemetryError("netlink RTM_GETLINK for " + iface + ": " + std::strerror(-e->error));
    }
    if (nh->nlmsg_type != RTM_NEWLINK) continue;
    auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(nh));
    int len = static_cast<int>(nh->nlmsg_len - NLMSG_LENGTH(sizeof *ifi));
    for (auto* a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type != IFLA_STATS64 || RTA_PAYLOAD(a) < sizeof(rtnl_link_stats64)) continue;
      rtnl_link_stats64 st{};
      std::memcpy(&st, RTA_DATA(a), sizeof st);
      return stats64(st);
    }
  }
  throw TelemetryError("netlink: no IFLA_STATS64 for " + iface);
}

// `ethtool -S`: string set size, names, then values. Drivers without statistics return EOPNOTSUPP.
std::vector<std::pair<std::string, uint64_t>> driver_stats(const std::string& iface) {
  std::vector<std::pair<std::string, uint64_t>> out;
  Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return out;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);

  // ethtool_sset_info ends in a flexible array: one u32 per set asked for.
  alignas(8) uint8_t sset_buf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* sset = reinterpret_cast<ethtool_sset_info*>(sset_buf);
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ull << ETH_SS_STATS;
  ifr.ifr_data = reinterpret_cast<char*>(sset);
  if (ioctl(s.fd, SIOCETHTOOL, &ifr) < 0 || !(sset->sset_mask & (1ull << ETH_SS_STATS))) return out;
  uint32_t count = 0;
  std::memcpy(&count, sset_buf + sizeof(ethtool_sset_info), sizeof count);
  if (count == 0 || count > 100000) return out;

  std::vector<uint8_t> strings(sizeof(ethtool_gstrings) + size_t{count} * ETH_GSTRING_LEN);
  auto* gs = reinterpret_cast<ethtool_gstrings*>(strings.data());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = ETH_SS_STATS;
  gs->len = count;
  ifr.ifr_data = reinterpret_cast<char*>(gs);
  if (ioctl(s.fd, SIOCETHTOOL, &ifr) < 0) return out;

  std::vector<uint8_t> values(sizeof(struct ethtool_stats) + size_t{count} * sizeof(uint64_t));
  auto* st = reinterpret_cast<struct ethtool_stats*>(values.data());
  st->cmd = ETHTOOL_GSTATS;
  st->n_stats = count;
  ifr.ifr_data = reinterpret_cast<char*>(st);
  if (ioctl(s.fd, SIOCETHTOOL, &ifr) < 0) return out;
  uint32_t n = std::min(count, st->n_stats);
  for (uint32_t i = 0; i < n; ++i) {
    const char* name = reinterpret_cast<const char*>(gs->data + size_t{i} * ETH_GSTRING_LEN);
    uint64_t v = 0;
    std::memcpy(&v, values.data() + sizeof(struct ethtool_stats) + size_t{i} * sizeof(uint64_t), sizeof v);
    out.emplace_back(std::string(name, strnlen(name, ETH_GSTRING_LEN)), v);
  }
  return out;
}

}  // namespace

NetdevStats read_netdev_stats(const std::string& iface) {
  unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) throw TelemetryError("no network interface named '" + iface + "'");
  return NetdevStats{iface, link_stats(ifindex, iface), driver_stats(iface)};
}

void add_netdev_metrics(Metrics& m, const NetdevStats& s) {
  for (const auto& [name, v] : s.link)
    m.add("rfab_netdev_" + name + "_total", "kernel link statistic " + name + " (IFLA_STATS64)", MetricType::counter,
          {{"iface", s.iface}}, static_cast<double>(v));
  for (const auto& [name, v] : s.ethtool) {
    // Pause/PFC counters get their own family so dashboards find them whatever the driver calls them.
    bool pause = name.find("pause") != std::string::npos || name.find("pfc") != std::string::npos;
    m.add(pause ? "rfab_netdev_pause_frames" : "rfab_netdev_driver_stat",
          pause ? "driver pause/PFC frame counter (ethtool -S)" : "driver statistic (ethtool -S)",
          MetricType::gauge, {{"iface", s.iface}, {"stat", name}}, static_cast<double>(v));
  }
}

}  // namespace rfab::telemetry
