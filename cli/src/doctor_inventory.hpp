// What sysfs says about this host's RDMA devices: ports (state, physical state, rate, link layer, netdev and
// its MTU), the GID table with RoCE types, and the port's error/traffic counters. Read-only, no libibverbs,
// so `rfab doctor` works on any host; the root is a parameter so tests can point it at a fake tree.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rfab::cli::doctor {

struct GidEntry {
  int index = 0;
  std::string gid;     // sysfs form, e.g. 0000:0000:0000:0000:0000:ffff:0a4d:0001
  std::string type;    // "RoCE v2", "RoCE v1", "IB/RoCE v1"
  std::string netdev;  // the netdev the entry belongs to (gid_attrs/ndevs), may be empty
  bool ipv4_mapped() const;
  std::string ipv4() const;  // dotted quad of an IPv4-mapped GID, "" otherwise
};

struct PortInfo {
  std::string device;
  int port = 1;
  std::string state;       // "ACTIVE", "DOWN", ... (text after "N: ")
  std::string phys_state;  // "LinkUp", "Disabled", ...
  std::string rate;        // "10 Gb/sec (1X QDR)"
  std::string link_layer;  // "Ethernet" | "InfiniBand"
  std::string netdev;      // from the GID table or device/net
  std::optional<int> netdev_mtu;
  std::optional<int> active_mtu;  // bytes; from libibverbs when rfab is built with it
  std::vector<GidEntry> gids;     // valid (non-zero) entries only
  std::map<std::string, uint64_t> counters;  // hw_counters/ and counters/ merged
};

struct Inventory {
  std::vector<PortInfo> ports;
  std::vector<std::string> devices;
};

// Reads <root>/class/infiniband/*/ports/*; root is normally "/sys". A missing class dir is an empty inventory.
Inventory read_inventory(const std::string& sys_root = "/sys");

// The recommended GID index for RoCE v2 over IPv4: the first "RoCE v2" entry with an IPv4-mapped GID.
std::optional<int> recommended_gid(const PortInfo& p);

// Largest IB MTU (256..4096) whose packets fit in a netdev MTU, with worst-case RoCE v2 headers
// (IPv6 40 + UDP 8 + BTH 12 + RETH 16 + ICRC 4 = 80 bytes).
int largest_ib_mtu_for(int netdev_mtu);

}  // namespace rfab::cli::doctor
