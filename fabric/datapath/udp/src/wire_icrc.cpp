#include "rfab/udp/wire_icrc.hpp"

#include <algorithm>
#include <cstring>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/crc32.hpp"
#include "rfab/wire/crc32_copy.hpp"
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

uint32_t IcrcHeaderCache::state(const Address& src, const Address& dst, size_t udp_payload_len, uint16_t ip_id) {
  Slot& s = slots_[(ip_id + udp_payload_len * 17) % slots_.size()];
  if (s.len != udp_payload_len || s.id != ip_id || s.dst != dst || s.src != src) {
    uint8_t hdr[kIpv6UdpHeaderLen];
    const size_t n = wire_ip_udp_header(src, dst, udp_payload_len, ip_id, hdr);
    s = Slot{src, dst, udp_payload_len, ip_id, w::icrc_ip_udp_state({hdr, n})};
  }
  return s.state;
}

void fill_icrc(const Address& src, const Address& dst, uint16_t ip_id, std::span<uint8_t> udp_payload) {
  uint8_t hdr[kIpv6UdpHeaderLen];
  const size_t n = wire_ip_udp_header(src, dst, udp_payload.size(), ip_id, hdr);
  const size_t body = udp_payload.size() - 4;
  const uint32_t crc = w::icrc_compute_split({hdr, n}, udp_payload.first(body));
  w::store_le32(udp_payload.data() + body, crc);
}

void fill_icrc(IcrcHeaderCache& cache, const Address& src, const Address& dst, uint16_t ip_id,
               std::span<uint8_t> udp_payload) {
  const size_t body = udp_payload.size() - 4;
  const uint32_t state = cache.state(src, dst, udp_payload.size(), ip_id);
  w::store_le32(udp_payload.data() + body,
                w::icrc_continue(state, udp_payload.first(w::kBthLen), udp_payload.subspan(w::kBthLen, body - w::kBthLen)));
}

void fill_icrc_gather(const Address& src, const Address& dst, uint16_t ip_id, std::span<const uint8_t> headers,
                      std::span<const uint8_t> payload, uint8_t* icrc_slot) {
  uint8_t hdr[kIpv6UdpHeaderLen];
  const size_t n = wire_ip_udp_header(src, dst, headers.size() + payload.size() + 4, ip_id, hdr);
  w::store_le32(icrc_slot, w::icrc_compute_gather({hdr, n}, headers, payload));
}

void fill_icrc_gather(IcrcHeaderCache& cache, const Address& src, const Address& dst, uint16_t ip_id,
                      std::span<const uint8_t> headers, std::span<const uint8_t> payload, uint8_t* icrc_slot) {
  const uint32_t state = cache.state(src, dst, headers.size() + payload.size() + 4, ip_id);
  w::store_le32(icrc_slot, w::icrc_continue(state, headers, payload));
}

IcrcVerifier::IcrcVerifier(unsigned ipv4_id_window)
    : window_(std::clamp(ipv4_id_window, 1u, kAnyIpv4Id)) {}

bool IcrcVerifier::verify(const Address& src, const Address& dst, std::span<const uint8_t> udp_payload) {
  if (udp_payload.size() < w::kBthLen + 4) return false;
  const size_t body = udp_payload.size() - 4;
  const uint32_t crc0 = w::icrc_continue(headers_.state(src, dst, udp_payload.size(), 0),
                                         udp_payload.first(w::kBthLen), udp_payload.subspan(w::kBthLen, body - w::kBthLen));
  return accept(dst, crc0, w::load_le32(udp_payload.data() + body), body);
}

bool IcrcVerifier::verify_copy(const Address& src, const Address& dst, std::span<const uint8_t> udp_payload,
                               std::span<const uint8_t> payload, uint8_t* out) {
  const size_t at = static_cast<size_t>(payload.data() - udp_payload.data());
  if (udp_payload.size() < w::kBthLen + 4 || at < w::kBthLen || at + payload.size() > udp_payload.size() - 4) {
    // Not a payload of this packet: copy (as promised) and check the ordinary way.
    if (!payload.empty()) std::memcpy(out, payload.data(), payload.size());
    return verify(src, dst, udp_payload);
  }
  const size_t body = udp_payload.size() - 4;
  // The ICRC covers BTH .. headers, payload, pad in that order: the same CRC as verify's, in three parts.
  uint32_t crc0 = w::icrc_continue(headers_.state(src, dst, udp_payload.size(), 0), udp_payload.first(at));
  crc0 = w::crc32_copy_update(crc0, out, payload.data(), payload.size());
  const size_t end = at + payload.size();
  crc0 = w::crc32_update(crc0, udp_payload.data() + end, body - end);
  return accept(dst, crc0, w::load_le32(udp_payload.data() + body), body);
}

bool IcrcVerifier::accept(const Address& dst, uint32_t crc0, uint32_t stored, size_t body_len) {
  last_id_ = 0;
  if (crc0 == stored) return true;
  if (dst.v6 || window_ == 1) return false;
  // Bytes the ICRC covers after the 2-byte ID: the rest of the IPv4 header (14), UDP (8), BTH .. pad.
  const auto id = solver_.solve(crc0 ^ stored, 14 + 8 + body_len);
  if (!id || *id >= window_) return false;
  last_id_ = *id;
  return true;
}

}  // namespace rfab::udp
