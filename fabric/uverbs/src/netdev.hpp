// What the provider needs to know about a network interface to present it as a RoCE v2 port: its
// address (the one GID), MTU, MAC (the node GUID) and whether the link is up. Read from the kernel on
// every query, so a port goes ACTIVE / DOWN with its netdev as rxe's does.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rfab/udp/address.hpp"

namespace rfab::uverbs {

struct Netdev {
  std::string name;
  unsigned ifindex = 0;
  uint32_t mtu = 0;                 // bytes (the IP MTU)
  std::array<uint8_t, 6> mac{};
  bool up = false;                  // IFF_UP and IFF_RUNNING
  std::optional<udp::Address> addr; // the RoCE address: the first IPv4 one, else the first global IPv6 one
};

// Reads interface `name`. nullopt when there is no such interface.
std::optional<Netdev> read_netdev(const std::string& name);

// Interfaces the provider offers when none is named: up, not loopback, with an address.
std::vector<std::string> default_netdevs();

// The largest RoCE MTU (IBV_MTU_256..IBV_MTU_4096 as 1..5) whose packets fit in an IP MTU of `ip_mtu`
// bytes (IP + UDP + BTH + RETH + ICRC, as rxe's eth_mtu_int_to_enum); 0 when not even 256 fits.
uint8_t roce_mtu_for(uint32_t ip_mtu, bool v6);

// EUI-64 from the MAC (as rxe's node GUID), in network byte order.
uint64_t guid_from_mac(const std::array<uint8_t, 6>& mac);

}  // namespace rfab::uverbs
