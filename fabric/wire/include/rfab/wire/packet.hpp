// Whole RoCE v2 packets: the transport part (BTH ... ICRC, i.e. a UDP payload) and whole frames
// (Ethernet [VLAN] IPv4|IPv6 UDP BTH ... ICRC). Decoding is zero-copy: payload spans point into the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/wire/error.hpp"
#include "rfab/wire/headers.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::wire {

// The transport headers of one packet. `headers` says which optional members are meaningful.
struct RoceFields {
  Bth bth;
  uint16_t headers = 0;  // HeaderBit mask, from the opcode table
  Deth deth;
  Reth reth;
  AtomicEth atomic;
  Aeth aeth;
  AtomicAckEth atomic_ack;
  uint32_t imm = 0;        // ImmDt, as the 32-bit big-endian value on the wire
  uint32_t ieth_rkey = 0;  // IETH
  bool has(HeaderBit h) const { return (headers & h) != 0; }
};

// A decoded UDP payload (BTH ... ICRC).
struct RocePacket {
  RoceFields f;
  const OpcodeInfo* info = nullptr;
  std::span<const uint8_t> payload;  // without pad
  uint32_t icrc = 0;                 // as stored (little-endian on the wire)
  size_t header_len = 0;             // BTH + extension headers
  size_t length = 0;                 // whole UDP payload, ICRC included
};

// Decode a UDP payload. `base` is added to the error offsets (the payload's offset in a frame).
Result<RocePacket> decode_roce(std::span<const uint8_t> udp_payload, size_t base = 0);

// Bytes encode_roce writes for these fields and payload length (ICRC included).
size_t roce_encoded_len(uint8_t opcode, size_t payload_len);

// Encode BTH ... pad + a zeroed ICRC slot into `out`; headers come from the opcode table (f.headers is
// ignored), the pad count from the payload length. Returns bytes written (ICRC slot included).
// The ICRC depends on the IP/UDP headers, so it is filled in by encode_frame or by the datapath.
Result<size_t> encode_roce(const RoceFields& f, std::span<const uint8_t> payload, std::span<uint8_t> out);

enum class LinkType : uint8_t { ethernet, raw_ip };

// A decoded frame.
struct Frame {
  EthHeader eth;  // meaningful for LinkType::ethernet
  bool ipv6 = false;
  Ipv4Header ip4;
  Ipv6Header ip6;
  UdpHeader udp;
  size_t l3_offset = 0;  // where the IP header starts
  size_t udp_offset = 0;
  size_t roce_offset = 0;
  std::span<const uint8_t> l3;  // IP header .. ICRC inclusive (what the ICRC is computed over, minus 4)
  RocePacket roce;
  Ecn ecn() const { return ipv6 ? ip6.ecn : ip4.ecn; }
  uint8_t dscp() const { return ipv6 ? ip6.dscp : ip4.dscp; }
};

// Decode a frame down to the RoCE v2 transport. UDP traffic to ports other than `roce_port` gives
// Errc::not_roce (so callers can count and skip it). Trailing bytes after the IP datagram (Ethernet
// padding of short frames) are ignored.
Result<Frame> decode_frame(std::span<const uint8_t> frame, LinkType link = LinkType::ethernet,
                           uint16_t roce_port = kRoceV2Port);

// Does the stored ICRC match the one computed over the frame's IP/UDP/transport bytes?
bool frame_icrc_ok(const Frame& f);

// What encode_frame needs beyond the transport fields.
struct FrameSpec {
  EthHeader eth;  // ethertype is set from `ipv6`
  bool ipv6 = false;
  Ipv4Header ip4;  // total_length and checksum are computed
  Ipv6Header ip6;  // payload_length is computed
  uint16_t src_port = 0xC000;
  uint16_t dst_port = kRoceV2Port;
  LinkType link = LinkType::ethernet;
};

// Encode a whole frame (Ethernet, IP with checksum, UDP with checksum 0, transport, ICRC).
Result<size_t> encode_frame(const FrameSpec& spec, const RoceFields& f, std::span<const uint8_t> payload,
                            std::span<uint8_t> out);

// Bytes encode_frame will write.
size_t frame_encoded_len(const FrameSpec& spec, uint8_t opcode, size_t payload_len);

}  // namespace rfab::wire
