// Plain-value forms of every header rfab reads or writes, with encode/decode for each. Decoding copies
// only the fixed header fields; payloads stay as spans into the caller's buffer.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/wire/error.hpp"

namespace rfab::wire {

using MacAddr = std::array<uint8_t, 6>;
using Ipv6Addr = std::array<uint8_t, 16>;

inline constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86DD, kEtherVlan = 0x8100, kEtherQinQ = 0x88A8;
inline constexpr uint8_t kIpProtoUdp = 17;

// ECN codepoints (RFC 3168).
enum class Ecn : uint8_t { not_ect = 0, ect1 = 1, ect0 = 2, ce = 3 };

struct VlanTag {
  uint16_t tpid = kEtherVlan;
  uint8_t pcp = 0;  // priority code point: the PFC priority
  bool dei = false;
  uint16_t vid = 0;
};

struct EthHeader {
  MacAddr dst{};
  MacAddr src{};
  uint8_t vlan_count = 0;  // 0..2
  std::array<VlanTag, 2> vlan{};
  uint16_t ethertype = kEtherIpv4;
  size_t size() const { return 14 + 4 * size_t{vlan_count}; }
};

struct Ipv4Header {
  uint8_t ihl = 5;  // in 32-bit words
  uint8_t dscp = 0;
  Ecn ecn = Ecn::not_ect;
  uint16_t total_length = 0;
  uint16_t id = 0;
  bool df = true;
  bool mf = false;
  uint16_t frag_offset = 0;
  uint8_t ttl = 64;
  uint8_t protocol = kIpProtoUdp;
  uint16_t checksum = 0;
  uint32_t src = 0;  // host order
  uint32_t dst = 0;
  size_t size() const { return size_t{ihl} * 4; }
};

struct Ipv6Header {
  uint8_t dscp = 0;
  Ecn ecn = Ecn::not_ect;
  uint32_t flow_label = 0;
  uint16_t payload_length = 0;
  uint8_t next_header = kIpProtoUdp;
  uint8_t hop_limit = 64;
  Ipv6Addr src{};
  Ipv6Addr dst{};
};

struct UdpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 4791;
  uint16_t length = 0;
  uint16_t checksum = 0;
};

struct Bth {
  uint8_t opcode = 0;
  bool se = false;    // solicited event
  bool mig = false;   // migration state
  uint8_t pad = 0;    // pad count 0..3
  uint8_t tver = 0;   // transport header version, 0
  uint16_t pkey = 0xFFFF;
  bool fecn = false;  // RoCE v2 keeps these reserved bits; the ICRC masks them
  bool becn = false;
  uint32_t dest_qp = 0;  // 24 bits
  bool ack_req = false;
  uint32_t psn = 0;  // 24 bits
};

struct Reth {
  uint64_t va = 0;
  uint32_t rkey = 0;
  uint32_t dma_len = 0;
};

// AETH syndrome: bits 6..5 say ACK / RNR NAK / NAK, bits 4..0 the credit count, timer or NAK code.
enum class AckType : uint8_t { ack = 0, rnr_nak = 1, reserved = 2, nak = 3 };
enum class NakCode : uint8_t {
  psn_sequence_error = 0,
  invalid_request = 1,
  remote_access_error = 2,
  remote_operational_error = 3,
  invalid_rd_request = 4,
};
struct Aeth {
  uint8_t syndrome = 0;
  uint32_t msn = 0;  // 24 bits
  AckType type() const { return static_cast<AckType>((syndrome >> 5) & 3); }
  uint8_t value() const { return syndrome & 0x1F; }
  static uint8_t make(AckType t, uint8_t value) {
    return static_cast<uint8_t>((static_cast<uint8_t>(t) << 5) | (value & 0x1F));
  }
};
inline constexpr uint8_t kAethCreditInvalid = 0x1F;  // "no credit information"

struct AtomicEth {
  uint64_t va = 0;
  uint32_t rkey = 0;
  uint64_t swap_add = 0;
  uint64_t compare = 0;
};

struct AtomicAckEth {
  uint64_t orig = 0;
};

struct Deth {
  uint32_t qkey = 0;
  uint32_t src_qp = 0;  // 24 bits
};

// Per-header codec. decode_* check the span length and return the typed error with `offset` added.
Result<EthHeader> decode_eth(std::span<const uint8_t> b, size_t offset = 0);
size_t encode_eth(const EthHeader& h, uint8_t* out);  // writes h.size() bytes

Result<Ipv4Header> decode_ipv4(std::span<const uint8_t> b, size_t offset = 0);
void encode_ipv4(const Ipv4Header& h, uint8_t* out);  // 20 bytes, checksum filled in
uint16_t ipv4_header_checksum(const uint8_t* hdr, size_t len);

Result<Ipv6Header> decode_ipv6(std::span<const uint8_t> b, size_t offset = 0);
void encode_ipv6(const Ipv6Header& h, uint8_t* out);  // 40 bytes

Result<UdpHeader> decode_udp(std::span<const uint8_t> b, size_t offset = 0);
void encode_udp(const UdpHeader& h, uint8_t* out);

Bth decode_bth(const uint8_t* p);  // caller checked 12 bytes
void encode_bth(const Bth& h, uint8_t* out);
Reth decode_reth(const uint8_t* p);
void encode_reth(const Reth& h, uint8_t* out);
Aeth decode_aeth(const uint8_t* p);
void encode_aeth(const Aeth& h, uint8_t* out);
AtomicEth decode_atomic_eth(const uint8_t* p);
void encode_atomic_eth(const AtomicEth& h, uint8_t* out);
AtomicAckEth decode_atomic_ack_eth(const uint8_t* p);
void encode_atomic_ack_eth(const AtomicAckEth& h, uint8_t* out);
Deth decode_deth(const uint8_t* p);
void encode_deth(const Deth& h, uint8_t* out);

}  // namespace rfab::wire
