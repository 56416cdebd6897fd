// The Ethernet/IP/UDP headers around a RoCE v2 packet, for datapaths that see whole frames (AF_XDP, DPDK).
//
// Transmit: a HeaderTemplate per peer holds the constant bytes (MACs, addresses, DF, TTL); finish() writes
// them in front of the packet the RC engine has put in the frame, fills in the lengths, the IPv4 header
// checksum, the ICRC over the real IP/UDP header (IPv4 Identification 0, as a DF kernel UDP socket sends
// a plain datagram, so a kernel-UDP receiver with any ID window accepts it) and the UDP checksum (always
// for IPv6, where 0 is not allowed; optional for IPv4).
//
// Receive: parse_frame() checks the headers and says whether a frame is RoCE v2 for us, ARP, or something
// else; the ICRC of a RoCE frame is checked exactly (the IPv4 ID is on the frame: nothing to solve).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/frame/ethernet.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::frame {

inline constexpr size_t kIpv4FrameHeaders = kEthHeaderLen + 20 + 8, kIpv6FrameHeaders = kEthHeaderLen + 40 + 8;
inline constexpr uint8_t kEct0 = 0x02;  // ECN-capable transport, as the kernel-UDP datapath marks its packets

class HeaderTemplate {
 public:
  HeaderTemplate() = default;
  // `src`/`dst`: IP addresses (ports are per packet). Both of one IP version.
  HeaderTemplate(const Mac& src_mac, const Mac& dst_mac, const udp::Address& src, const udp::Address& dst);
  size_t len() const { return v6_ ? kIpv6FrameHeaders : kIpv4FrameHeaders; }
  // The frame holds the RoCE packet (BTH .. ICRC slot, `udp_payload_len` bytes) at offset len(). Writes the
  // headers, the ICRC and the checksums; returns the frame length.
  size_t finish(uint8_t* frame, size_t udp_payload_len, uint16_t src_port, uint16_t dst_port, uint8_t tos,
                bool udp_checksum) const;

 private:
  bool v6_ = false;
  uint8_t bytes_[kIpv6FrameHeaders]{};
};

struct RoceFrame {
  udp::Address src, dst;                 // IP addresses and UDP ports
  std::span<const uint8_t> udp_payload;  // BTH .. ICRC
  std::span<const uint8_t> ip_udp;       // the IP + UDP headers as received (what the ICRC covers first)
  bool ecn_ce = false;
};

enum class FrameKind : uint8_t {
  roce,       // IPv4/IPv6 UDP to the RoCE port: `out` filled
  arp,        // an ARP packet (the caller may answer it)
  other,      // anything else (not IP/UDP to the RoCE port, VLAN-tagged, fragments)
  malformed,  // IP/UDP to the RoCE port, but the lengths do not add up
};
FrameKind parse_frame(std::span<const uint8_t> frame, uint16_t roce_port, RoceFrame& out);

// True when the ICRC in the last four bytes of f.udp_payload matches the packet as it came off the wire.
bool icrc_matches(const RoceFrame& f);

// One's-complement sum helpers (RFC 1071), for the IPv4 header and UDP checksums.
uint16_t ip_checksum(const uint8_t* data, size_t len, uint32_t initial = 0);

}  // namespace rfab::frame
