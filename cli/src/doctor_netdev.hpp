// `rfab doctor` for the Ethernet side: the netdev RoCE uses (link, speed, MTU against the RoCE MTU,
// addresses, reverse-path filtering) and the neighbour entries of the peers' next hops. Reading (sysfs,
// procfs, getifaddrs) is split from judging so the evaluate_* functions are unit-tested on fake trees.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "doctor_checks.hpp"

namespace rfab::cli::doctor {

struct NetdevInfo {
  std::string name;
  bool exists = false;
  std::string operstate;            // "up", "down", "unknown" (sysfs operstate)
  std::optional<int> carrier;       // 1 = link detected
  std::optional<int> speed_mbps;    // absent for virtual links that report none (-1)
  std::optional<int> mtu;
  bool is_virtual = false;          // veth, bridge, tap... (sysfs devices/virtual/net)
  std::vector<std::string> ipv4, ipv6;  // addresses (IPv6 without link-local)
  std::optional<int> rp_filter_dev, rp_filter_all;  // net.ipv4.conf.{dev,all}.rp_filter
};

// sysfs/procfs part of NetdevInfo (addresses are filled by read_addresses).
NetdevInfo read_netdev(const std::string& name, const std::string& sys_root = "/sys",
                       const std::string& proc_root = "/proc");
void read_addresses(NetdevInfo& n);  // getifaddrs

Check evaluate_link(const NetdevInfo& n);        // exists, administratively and operationally up, speed
Check evaluate_netdev_mtu(const NetdevInfo& n);  // the largest RoCE MTU its MTU carries (4096 needs >= 4176)
Check evaluate_addresses(const NetdevInfo& n);   // RoCE v2 needs an IP address
Check evaluate_rp_filter(const NetdevInfo& n);   // strict mode drops multi-rail / multipath return traffic

struct Ipv4Route {
  std::string iface;
  uint32_t dest = 0, mask = 0, gateway = 0;  // host byte order
  int metric = 0;
};
// /proc/net/route (kernel hex, little-endian words). Malformed lines are skipped.
std::vector<Ipv4Route> parse_ipv4_routes(const std::string& text);
// Longest-prefix match (lowest metric on ties), or nothing.
std::optional<Ipv4Route> route_to(const std::vector<Ipv4Route>& routes, uint32_t ip);

struct ArpEntry {
  std::string ip, mac, iface;
  unsigned flags = 0;  // ATF_COM (0x2): resolved
};
std::vector<ArpEntry> parse_arp(const std::string& text);  // /proc/net/arp

// The neighbour entry of `peer`'s next hop (IPv4): resolved -> pass, incomplete -> fail (no ARP answer),
// absent -> warn. IPv6 peers are skipped (this check reads the IPv4 tables).
Check evaluate_neighbour(const std::string& peer, const std::vector<Ipv4Route>& routes,
                         const std::vector<ArpEntry>& arp);

// Which netdevs RoCE uses here: the explicit one, else the RDMA ports' netdevs, else the route to the first
// peer, else the default route's interface.
std::vector<std::string> roce_netdevs(const std::string& iface, const std::vector<std::string>& port_netdevs,
                                      const std::vector<std::string>& peers, const std::vector<Ipv4Route>& routes);

std::string read_file(const std::string& path);  // whole file, "" when unreadable

}  // namespace rfab::cli::doctor
