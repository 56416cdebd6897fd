#include "rfab/wire/icrc.hpp"

#include <cstring>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/crc32.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::wire {
namespace {

// CRC state after the eight 0xFF bytes that stand in for the IB local route header.
const uint32_t kLrhSeed = [] {
  const uint8_t ff[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  return crc32_update_portable(0, ff, sizeof ff);
}();

// Sets the variant IP and UDP fields of the header copy `m` (ip_len IP bytes, then UDP) to all ones.
void mask_ip_udp(uint8_t* m, size_t ip_len, bool v6) {
  if (v6) {
    m[0] |= 0x0F;  // traffic class high nibble (version stays)
    m[1] = 0xFF;   // traffic class low nibble + flow label
    m[2] = 0xFF;
    m[3] = 0xFF;
    m[7] = 0xFF;  // hop limit
  } else {
    m[1] = 0xFF;  // TOS (DSCP + ECN)
    m[8] = 0xFF;  // TTL
    m[10] = 0xFF;  // header checksum
    m[11] = 0xFF;
  }
  m[ip_len + 6] = 0xFF;  // UDP checksum
  m[ip_len + 7] = 0xFF;
}

// Masks the variant fields of IP+UDP+BTH, copied into `m`, and returns the final ICRC.
uint32_t icrc_core(const uint8_t* ip, size_t ip_len, bool v6, const uint8_t* udp, const uint8_t* bth,
                   size_t bth_onward_len) {
  uint8_t m[60 + kUdpLen + kBthLen];
  std::memcpy(m, ip, ip_len);
  uint8_t* u = m + ip_len;
  std::memcpy(u, udp, kUdpLen);
  mask_ip_udp(m, ip_len, v6);
  uint8_t* b = u + kUdpLen;
  std::memcpy(b, bth, kBthLen);
  b[4] = 0xFF;  // FECN, BECN, reserved
  uint32_t crc = crc32_update(kLrhSeed, m, ip_len + kUdpLen + kBthLen);
  return crc32_update(crc, bth + kBthLen, bth_onward_len - kBthLen);
}

}  // namespace

Result<uint32_t> icrc_compute(std::span<const uint8_t> l3) {
  if (l3.empty()) return truncated("ip header", 0, 1, 0);
  const uint8_t version = l3[0] >> 4;
  size_t ip_len;
  if (version == 4) {
    ip_len = size_t{static_cast<uint8_t>(l3[0] & 0x0F)} * 4;
    if (ip_len < kIpv4Len) return wire_error(Errc::bad_length, "ipv4.ihl", 0);
  } else if (version == 6) {
    ip_len = kIpv6Len;
  } else {
    return wire_error(Errc::bad_version, "ip.version", 0);
  }
  const size_t hdrs = ip_len + kUdpLen + kBthLen;
  if (l3.size() < hdrs) return truncated("ip/udp/bth headers", 0, hdrs, l3.size());
  return icrc_core(l3.data(), ip_len, version == 6, l3.data() + ip_len, l3.data() + ip_len + kUdpLen,
                   l3.size() - ip_len - kUdpLen);
}

uint32_t icrc_compute_split(std::span<const uint8_t> ip_udp_headers, std::span<const uint8_t> bth_to_pad) {
  const bool v6 = (ip_udp_headers[0] >> 4) == 6;
  const size_t ip_len = ip_udp_headers.size() - kUdpLen;
  return icrc_core(ip_udp_headers.data(), ip_len, v6, ip_udp_headers.data() + ip_len, bth_to_pad.data(),
                   bth_to_pad.size());
}

uint32_t icrc_compute_gather(std::span<const uint8_t> ip_udp_headers, std::span<const uint8_t> roce_headers,
                             std::span<const uint8_t> payload) {
  const bool v6 = (ip_udp_headers[0] >> 4) == 6;
  const size_t ip_len = ip_udp_headers.size() - kUdpLen;
  const uint32_t crc = icrc_core(ip_udp_headers.data(), ip_len, v6, ip_udp_headers.data() + ip_len,
                                 roce_headers.data(), roce_headers.size());
  return crc32_update(crc, payload.data(), payload.size());
}

uint32_t icrc_ip_udp_state(std::span<const uint8_t> ip_udp_headers) {
  const bool v6 = (ip_udp_headers[0] >> 4) == 6;
  uint8_t m[60 + kUdpLen];  // the longest IPv4 header (IHL 15) or IPv6 (40), then UDP
  const size_t n = ip_udp_headers.size() < sizeof m ? ip_udp_headers.size() : sizeof m;
  std::memcpy(m, ip_udp_headers.data(), n);
  mask_ip_udp(m, n - kUdpLen, v6);
  return crc32_update(kLrhSeed, m, n);
}

uint32_t icrc_continue(uint32_t ip_udp_state, std::span<const uint8_t> roce_headers,
                       std::span<const uint8_t> payload) {
  uint8_t b[kBthLen];
  std::memcpy(b, roce_headers.data(), kBthLen);
  b[4] = 0xFF;  // FECN, BECN, reserved
  uint32_t crc = crc32_update(ip_udp_state, b, kBthLen);
  crc = crc32_update(crc, roce_headers.data() + kBthLen, roce_headers.size() - kBthLen);
  return crc32_update(crc, payload.data(), payload.size());
}

bool icrc_verify(std::span<const uint8_t> l3_with_icrc) {
  if (l3_with_icrc.size() < kIcrcLen) return false;
  auto body = l3_with_icrc.first(l3_with_icrc.size() - kIcrcLen);
  auto crc = icrc_compute(body);
  return crc.ok() && *crc == load_le32(l3_with_icrc.data() + body.size());
}

}  // namespace rfab::wire
