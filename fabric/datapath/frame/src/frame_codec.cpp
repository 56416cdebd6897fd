#include "rfab/frame/frame_codec.hpp"

#include <cstring>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::frame {
namespace w = rfab::wire;
namespace {

// 64-bit accumulation of big-endian 16-bit words; folded at the end.
uint64_t sum_words(const uint8_t* p, size_t len, uint64_t acc) {
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    // Sum as native little-endian 32-bit halves; byte order is fixed up by the final swap (RFC 1071 §2(B)).
    acc += (v & 0xFFFFFFFFu) + (v >> 32);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    acc += v;
    p += 2;
    len -= 2;
  }
  if (len == 1) acc += p[0];  // little-endian: the odd byte is the high byte of a big-endian word padded with 0
  return acc;
}

uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  const auto le = static_cast<uint16_t>(acc);
  return static_cast<uint16_t>((le >> 8) | (le << 8));  // to big-endian order
}

}  // namespace

uint16_t ip_checksum(const uint8_t* data, size_t len, uint32_t initial) {
  const uint16_t sum = fold(sum_words(data, len, initial));
  return static_cast<uint16_t>(~sum);
}

HeaderTemplate::HeaderTemplate(const Mac& src_mac, const Mac& dst_mac, const udp::Address& src,
                               const udp::Address& dst)
    : v6_(dst.v6) {
  std::memcpy(bytes_, dst_mac.b.data(), 6);
  std::memcpy(bytes_ + 6, src_mac.b.data(), 6);
  w::store_be16(bytes_ + 12, v6_ ? kEtherIpv6 : kEtherIpv4);
  uint8_t* ip = bytes_ + kEthHeaderLen;
  if (v6_) {
    ip[0] = 0x60;
    ip[6] = 17;  // next header UDP
    ip[7] = 64;  // hop limit
    std::memcpy(ip + 8, src.ip.data(), 16);
    std::memcpy(ip + 24, dst.ip.data(), 16);
  } else {
    ip[0] = 0x45;
    w::store_be16(ip + 6, 0x4000);  // DF: RoCE v2 never fragments; ID stays 0 (see the header comment)
    ip[8] = 64;                     // TTL
    ip[9] = 17;                     // UDP
    std::memcpy(ip + 12, src.ip.data(), 4);
    std::memcpy(ip + 16, dst.ip.data(), 4);
  }
}

size_t HeaderTemplate::finish(uint8_t* frame, size_t udp_payload_len, uint16_t src_port, uint16_t dst_port,
                              uint8_t tos, bool udp_checksum) const {
  const size_t hdr = len();
  std::memcpy(frame, bytes_, hdr);
  uint8_t* ip = frame + kEthHeaderLen;
  const size_t ip_len = v6_ ? 40 : 20;
  uint8_t* udp = ip + ip_len;
  const auto udp_len = static_cast<uint16_t>(8 + udp_payload_len);
  if (v6_) {
    ip[0] = static_cast<uint8_t>(0x60 | (tos >> 4));
    ip[1] = static_cast<uint8_t>(tos << 4);
    w::store_be16(ip + 4, udp_len);
  } else {
    ip[1] = tos;
    w::store_be16(ip + 2, static_cast<uint16_t>(20 + udp_len));
    w::store_be16(ip + 10, ip_checksum(ip, 20));
  }
  w::store_be16(udp, src_port);
  w::store_be16(udp + 2, dst_port);
  w::store_be16(udp + 4, udp_len);
  w::store_be16(udp + 6, 0);
  uint8_t* payload = udp + 8;
  const size_t body = udp_payload_len - w::kIcrcLen;
  w::store_le32(payload + body, w::icrc_compute_split({ip, ip_len + 8}, {payload, body}));
  if (udp_checksum || v6_) {
    // Pseudo-header: addresses, protocol, UDP length; then the UDP header and the payload (ICRC included).
    uint64_t acc = sum_words(ip + (v6_ ? 8 : 12), v6_ ? 32 : 8, 0);
    uint8_t tail[4] = {0, 17, 0, 0};
    w::store_be16(tail + 2, udp_len);
    acc = sum_words(tail, 4, acc);
    acc = sum_words(udp, udp_len, acc);
    uint16_t c = static_cast<uint16_t>(~fold(acc));
    if (c == 0) c = 0xFFFF;  // 0 means "no checksum" (RFC 768)
    w::store_be16(udp + 6, c);
  }
  return hdr + udp_payload_len;
}

FrameKind parse_frame(std::span<const uint8_t> frame, uint16_t roce_port, RoceFrame& out) {
  if (frame.size() < kEthHeaderLen) return FrameKind::other;
  const uint16_t type = w::load_be16(frame.data() + 12);
  if (type == kEtherArp) return FrameKind::arp;
  const uint8_t* ip = frame.data() + kEthHeaderLen;
  const size_t avail = frame.size() - kEthHeaderLen;
  size_t ip_hdr, ip_total;
  if (type == kEtherIpv4) {
    if (avail < 20 || (ip[0] >> 4) != 4 || ip[9] != 17) return FrameKind::other;
    ip_hdr = size_t{ip[0] & 0x0Fu} * 4;
    if ((w::load_be16(ip + 6) & 0x3FFF) != 0) return FrameKind::other;  // a fragment: never RoCE v2
    if (ip_hdr != 20 || avail < ip_hdr + 8) return FrameKind::other;    // RoCE v2 sends no IP options
    ip_total = w::load_be16(ip + 2);
    out.src.v6 = out.dst.v6 = false;
    out.src.ip = {};
    out.dst.ip = {};
    std::memcpy(out.src.ip.data(), ip + 12, 4);
    std::memcpy(out.dst.ip.data(), ip + 16, 4);
    out.ecn_ce = (ip[1] & 3) == 3;
  } else if (type == kEtherIpv6) {
    if (avail < 48 || (ip[0] >> 4) != 6 || ip[6] != 17) return FrameKind::other;
    ip_hdr = 40;
    ip_total = 40 + size_t{w::load_be16(ip + 4)};
    out.src.v6 = out.dst.v6 = true;
    std::memcpy(out.src.ip.data(), ip + 8, 16);
    std::memcpy(out.dst.ip.data(), ip + 24, 16);
    out.ecn_ce = ((w::load_be16(ip) >> 4) & 3) == 3;
  } else {
    return FrameKind::other;
  }
  const uint8_t* udp = ip + ip_hdr;
  if (w::load_be16(udp + 2) != roce_port) return FrameKind::other;
  const size_t udp_len = w::load_be16(udp + 4);
  // Trailing bytes after the IP datagram are Ethernet padding; a datagram longer than the frame is cut.
  if (ip_total > avail || udp_len != ip_total - ip_hdr || udp_len < 8 + w::kBthLen + w::kIcrcLen)
    return FrameKind::malformed;
  out.src.port = w::load_be16(udp);
  out.dst.port = roce_port;
  out.ip_udp = {ip, ip_hdr + 8};
  out.udp_payload = {udp + 8, udp_len - 8};
  return FrameKind::roce;
}

bool icrc_matches(const RoceFrame& f) {
  const size_t body = f.udp_payload.size() - w::kIcrcLen;
  const uint32_t crc = w::icrc_compute_split(f.ip_udp, f.udp_payload.first(body));
  return crc == w::load_le32(f.udp_payload.data() + body);
}

}  // namespace rfab::frame
