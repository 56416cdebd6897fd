// Which network interfaces become the plugin's devices: one device per interface that is up and has an
// address, chosen with NCCL_SOCKET_IFNAME's syntax so users can reuse what they already set for NCCL:
//
//   "eth,ib"      interfaces whose names start with eth or ib
//   "^docker,lo"  every interface except those starting with docker or lo
//   "=eth0,eth1"  exactly eth0 and eth1 (also "^=..." to exclude exact names)
//
// Without a filter: every interface except lo* and docker*, and lo when nothing else is left.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/udp/address.hpp"

namespace rfab::ncclnet {

struct IfaceFilter {
  bool exclude = false;  // the names are the ones to leave out
  bool exact = false;    // whole names, not prefixes
  std::vector<std::string> names;
  bool matches(std::string_view ifname) const;
};

// Throws std::invalid_argument naming the problem (an empty list, an empty name).
IfaceFilter parse_iface_filter(std::string_view spec);

struct Interface {
  std::string name;
  udp::Address ip;        // the first IPv4 address, else the first global IPv6 address
  int mtu = 0;            // link MTU in bytes
  int speed_mbps = 0;     // from /sys/class/net/<name>/speed; 10000 when the link does not say (veth)
  std::string pci_path;   // realpath of /sys/class/net/<name>/device, "" for virtual links
};

// The interfaces that pass `filter` (nullopt: the default choice above), in the order the kernel lists them.
std::vector<Interface> list_interfaces(const std::optional<IfaceFilter>& filter);

// The largest RoCE path MTU whose packets (payload plus IP/UDP/BTH/RETH/ImmDt/ICRC) fit the link MTU.
uint32_t roce_mtu_for_link(int link_mtu);

}  // namespace rfab::ncclnet
