#include "rfab/udp/wire_icrc.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::udp {
namespace w = rfab::wire;

size_t wire_ip_udp_header(const Address& src, const Address& dst, size_t udp_payload_len, uint16_t ip_id,
                          uint8_t* out) {
  const auto udp_len = static_cast<uint16_t>(8 + udp_payload_len);
  uint8_t* udp;
  size_t n;
  if (dst.v6) {
    std::memset(out, 0, kIpv6UdpHeaderLen);
    out[0] = 0x60;  // version 6; traffic class and flow label are masked by the ICRC
    w::store_be16(out + 4, udp_len);
    out[6] = 17;  // next header UDP; hop limit (out[7]) masked
    std::memcpy(out + 8, src.ip.data(), 16);
    std::memcpy(out + 24, dst.ip.data(), 16);
    udp = out + 40;
    n = kIpv6UdpHeaderLen;
  } else {
    std::memset(out, 0, kIpv4UdpHeaderLen);
    out[0] = 0x45;  // version 4, IHL 5 (a UDP socket sends no IP options); TOS masked
    w::store_be16(out + 2, static_cast<uint16_t>(20 + udp_len));
    w::store_be16(out + 4, ip_id);
    w::store_be16(out + 6, 0x4000);  // DF, offset 0
    out[9] = 17;                     // protocol UDP; TTL (8) and checksum (10..11) masked
    std::memcpy(out + 12, src.ip.data(), 4);
    std::memcpy(out + 16, dst.ip.data(), 4);
    udp = out + 20;
    n = kIpv4UdpHeaderLen;
  }
  w::store_be16(udp, src.port);
  w::store_be16(udp + 2, dst.port);
  w::store_be16(udp + 4, udp_len);
  return n;
}

void fill_icrc(const Address& src, const Address& dst, uint16_t ip_id, std::span<uint8_t> udp_payload) {
  uint8_t hdr[kIpv6UdpHeaderLen];
  const size_t n = wire_ip_udp_header(src, dst, udp_payload.size(), ip_id, hdr);
  const size_t body = udp_payload.size() - 4;
  const uint32_t crc = w::icrc_compute_split({hdr, n}, udp_payload.first(body));
  w::store_le32(udp_payload.data() + body, crc);
}

IcrcVerifier::IcrcVerifier(unsigned ipv4_id_window)
    : window_(std::clamp(ipv4_id_window, 1u, kMaxGsoSegments)) {}

// The CRC is affine: for equal-length inputs A and B, crc(A) ^ crc(B) = L(A ^ B), with L the CRC without
// pre/post inversion. A ^ B is zero except the two ID bytes, followed by `tail` bytes, so the difference
// is L(id bytes) advanced over `tail` zero bytes: zlib's crc32_combine_op with crc32_combine_gen(tail).
const uint32_t* IcrcVerifier::deltas(size_t tail) {
  auto it = cache_.find(tail);
  if (it != cache_.end()) return it->second.data();
  std::array<uint32_t, kMaxGsoSegments> d{};
  const uLong op = crc32_combine_gen(static_cast<z_off_t>(tail));
  const uint8_t zero[2] = {0, 0};
  const uLong crc_zero = crc32(0, zero, 2);
  for (unsigned id = 0; id < kMaxGsoSegments; ++id) {
    const uint8_t b[2] = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    const uLong lin = crc32(0, b, 2) ^ crc_zero;
    d[id] = static_cast<uint32_t>(crc32_combine_op(lin, 0, op));
  }
  if (cache_.size() > 16384) cache_.clear();  // bounded: RoCE packet lengths are few in practice
  return cache_.emplace(tail, d).first->second.data();
}

bool IcrcVerifier::verify(const Address& src, const Address& dst, std::span<const uint8_t> udp_payload) {
  if (udp_payload.size() < w::kBthLen + 4) return false;
  uint8_t hdr[kIpv6UdpHeaderLen];
  const size_t n = wire_ip_udp_header(src, dst, udp_payload.size(), 0, hdr);
  const size_t body = udp_payload.size() - 4;
  const uint32_t crc0 = w::icrc_compute_split({hdr, n}, udp_payload.first(body));
  const uint32_t stored = w::load_le32(udp_payload.data() + body);
  if (crc0 == stored) {
    last_id_ = 0;
    return true;
  }
  if (dst.v6 || window_ == 1) return false;
  // Bytes the ICRC covers after the 2-byte ID: the rest of the IPv4 header (14), UDP (8), BTH .. pad.
  const uint32_t* d = deltas(14 + 8 + body);
  const uint32_t diff = crc0 ^ stored;
  for (unsigned id = 1; id < window_; ++id) {
    if (d[id] == diff) {
      last_id_ = static_cast<uint16_t>(id);
      return true;
    }
  }
  return false;
}

}  // namespace rfab::udp
