#include "rfab/frame/arp.hpp"

#include <cstring>

#include "rfab/wire/bytes.hpp"

namespace rfab::frame {
namespace w = rfab::wire;

std::optional<ArpPacket> parse_arp(std::span<const uint8_t> frame) {
  if (frame.size() < kEthHeaderLen + 28 || w::load_be16(frame.data() + 12) != kEtherArp) return std::nullopt;
  const uint8_t* a = frame.data() + kEthHeaderLen;
  // hardware Ethernet (1), protocol IPv4, address lengths 6 and 4
  if (w::load_be16(a) != 1 || w::load_be16(a + 2) != kEtherIpv4 || a[4] != 6 || a[5] != 4) return std::nullopt;
  const uint16_t op = w::load_be16(a + 6);
  if (op != 1 && op != 2) return std::nullopt;
  ArpPacket p;
  p.request = op == 1;
  std::memcpy(p.sender_mac.b.data(), a + 8, 6);
  std::memcpy(p.sender_ip.data(), a + 14, 4);
  std::memcpy(p.target_mac.b.data(), a + 18, 6);
  std::memcpy(p.target_ip.data(), a + 24, 4);
  return p;
}

size_t write_arp(const ArpPacket& p, std::span<uint8_t> out) {
  uint8_t* f = out.data();
  std::memset(f, 0, kArpFrameLen);
  const Mac dst = p.request ? Mac::broadcast() : p.target_mac;
  std::memcpy(f, dst.b.data(), 6);
  std::memcpy(f + 6, p.sender_mac.b.data(), 6);
  w::store_be16(f + 12, kEtherArp);
  uint8_t* a = f + kEthHeaderLen;
  w::store_be16(a, 1);
  w::store_be16(a + 2, kEtherIpv4);
  a[4] = 6;
  a[5] = 4;
  w::store_be16(a + 6, p.request ? 1 : 2);
  std::memcpy(a + 8, p.sender_mac.b.data(), 6);
  std::memcpy(a + 14, p.sender_ip.data(), 4);
  if (!p.request) std::memcpy(a + 18, p.target_mac.b.data(), 6);
  std::memcpy(a + 24, p.target_ip.data(), 4);
  return kArpFrameLen;
}

}  // namespace rfab::frame
