// ARP (RFC 826) for IPv4 over Ethernet: what a datapath that bypasses the kernel (DPDK) needs to be
// reachable (answer requests for its address) and to find its peers' MACs.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "rfab/frame/ethernet.hpp"

namespace rfab::frame {

inline constexpr size_t kArpFrameLen = 60;  // 14 + 28, padded to the Ethernet minimum

struct ArpPacket {
  bool request = true;  // else a reply
  Mac sender_mac, target_mac;
  std::array<uint8_t, 4> sender_ip{}, target_ip{};
};

// An Ethernet/IPv4 ARP packet in `frame`; nullopt for anything else (other hardware/protocol types).
std::optional<ArpPacket> parse_arp(std::span<const uint8_t> frame);
// Writes the frame (broadcast for a request, unicast to target_mac for a reply); returns kArpFrameLen.
// `out` holds at least kArpFrameLen bytes.
size_t write_arp(const ArpPacket& p, std::span<uint8_t> out);

}  // namespace rfab::frame
