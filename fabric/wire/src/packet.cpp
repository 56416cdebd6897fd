#include "rfab/wire/packet.hpp"

#include <cstring>
#include <optional>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/icrc.hpp"

namespace rfab::wire {
namespace {

// Extension headers in wire order with their names for error messages.
struct ExtDesc {
  HeaderBit bit;
  size_t len;
  const char* name;
};
constexpr ExtDesc kExtOrder[] = {
    {kDeth, kDethLen, "deth"},           {kReth, kRethLen, "reth"},   {kAtomicEth, kAtomicEthLen, "atomiceth"},
    {kAeth, kAethLen, "aeth"},           {kAtomicAckEth, kAtomicAckEthLen, "atomicacketh"},
    {kImmDt, kImmDtLen, "immdt"},        {kIeth, kIethLen, "ieth"}, {kCnpPad, kCnpPadLen, "cnp reserved"},
};

}  // namespace

namespace {
// Decodes into `pkt` in place (the public wrappers avoid copying large temporaries on the hot path).
std::optional<WireError> decode_roce_into(RocePacket& pkt, std::span<const uint8_t> b, size_t base) {
  if (b.size() < kBthLen) return truncated("bth", base, kBthLen, b.size());
  pkt.f.bth = decode_bth(b.data());
  const Bth& bth = pkt.f.bth;
  pkt.info = opcode_info(bth.opcode);
  if (pkt.info == nullptr) return wire_error(Errc::unknown_opcode, "bth.opcode", base);
  if (bth.tver != 0) return wire_error(Errc::bad_version, "bth.tver", base + 1);
  pkt.f.headers = pkt.info->headers;

  size_t pos = kBthLen;
  for (const ExtDesc& d : kExtOrder) {
    if (!(pkt.info->headers & d.bit)) continue;
    if (b.size() < pos + d.len) return truncated(d.name, base + pos, d.len, b.size() - pos);
    const uint8_t* p = b.data() + pos;
    switch (d.bit) {
      case kDeth: pkt.f.deth = decode_deth(p); break;
      case kReth: pkt.f.reth = decode_reth(p); break;
      case kAtomicEth: pkt.f.atomic = decode_atomic_eth(p); break;
      case kAeth: pkt.f.aeth = decode_aeth(p); break;
      case kAtomicAckEth: pkt.f.atomic_ack = decode_atomic_ack_eth(p); break;
      case kImmDt: pkt.f.imm = load_be32(p); break;
      case kIeth: pkt.f.ieth_rkey = load_be32(p); break;
      case kCnpPad: break;
    }
    pos += d.len;
  }
  pkt.header_len = pos;
  if (b.size() < pos + kIcrcLen) return truncated("icrc", base + pos, kIcrcLen, b.size() - pos);
  const size_t body = b.size() - pos - kIcrcLen;  // payload + pad
  if (!pkt.info->payload) {
    if (body != 0) return wire_error(Errc::bad_payload, "payload (opcode carries none)", base + pos);
    if (bth.pad != 0) return wire_error(Errc::bad_pad, "bth.padcnt", base + 1);
  } else {
    if (body % 4 != 0) return wire_error(Errc::bad_length, "payload+pad (not a multiple of 4)", base + pos);
    if (bth.pad > body) return wire_error(Errc::bad_pad, "bth.padcnt", base + 1);
    if (bth.pad != 0 && (pkt.info->pos == MsgPos::first || pkt.info->pos == MsgPos::middle))
      return wire_error(Errc::bad_pad, "bth.padcnt (first/middle packets carry no pad)", base + 1);
  }
  pkt.payload = b.subspan(pos, body - bth.pad);
  pkt.icrc = load_le32(b.data() + b.size() - kIcrcLen);
  pkt.length = b.size();
  return std::nullopt;
}
}  // namespace

Result<RocePacket> decode_roce(std::span<const uint8_t> b, size_t base) {
  Result<RocePacket> r{std::in_place};
  if (auto e = decode_roce_into(r.value(), b, base)) r = *e;
  return r;  // one return path: NRVO, no copy
}

size_t roce_encoded_len(uint8_t opcode, size_t payload_len) {
  const OpcodeInfo* info = opcode_info(opcode);
  size_t hdr = kBthLen + (info ? ext_headers_len(info->headers) : 0);
  return hdr + ((payload_len + 3) & ~size_t{3}) + kIcrcLen;
}

Result<size_t> encode_roce(const RoceFields& f, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  const OpcodeInfo* info = opcode_info(f.bth.opcode);
  if (info == nullptr) return wire_error(Errc::unknown_opcode, "bth.opcode", 0);
  if (!info->payload && !payload.empty())
    return wire_error(Errc::bad_payload, "payload (opcode carries none)", kBthLen);
  const size_t need = roce_encoded_len(f.bth.opcode, payload.size());
  if (out.size() < need) return WireError{Errc::no_space, "output buffer", 0, need, out.size()};

  Bth bth = f.bth;
  bth.pad = static_cast<uint8_t>((4 - payload.size() % 4) % 4);
  bth.tver = 0;
  uint8_t* p = out.data();
  encode_bth(bth, p);
  p += kBthLen;
  for (const ExtDesc& d : kExtOrder) {
    if (!(info->headers & d.bit)) continue;
    switch (d.bit) {
      case kDeth: encode_deth(f.deth, p); break;
      case kReth: encode_reth(f.reth, p); break;
      case kAtomicEth: encode_atomic_eth(f.atomic, p); break;
      case kAeth: encode_aeth(f.aeth, p); break;
      case kAtomicAckEth: encode_atomic_ack_eth(f.atomic_ack, p); break;
      case kImmDt: store_be32(p, f.imm); break;
      case kIeth: store_be32(p, f.ieth_rkey); break;
      case kCnpPad: std::memset(p, 0, kCnpPadLen); break;
    }
    p += d.len;
  }
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  p += payload.size();
  std::memset(p, 0, bth.pad + kIcrcLen);
  return need;
}

namespace {
std::optional<WireError> decode_frame_into(Frame& fr, std::span<const uint8_t> b, LinkType link,
                                           uint16_t roce_port) {
  size_t l3 = 0;
  if (link == LinkType::ethernet) {
    auto eth = decode_eth(b, 0);
    if (!eth) return eth.error();
    fr.eth = *eth;
    l3 = fr.eth.size();
    if (fr.eth.ethertype != kEtherIpv4 && fr.eth.ethertype != kEtherIpv6)
      return wire_error(Errc::not_ip, "ethertype", l3 - 2);
  } else if (b.empty()) {
    return truncated("ip header", 0, 1, 0);
  }
  fr.l3_offset = l3;
  auto rest = b.subspan(l3);
  size_t ip_len, datagram_len;
  if (link == LinkType::ethernet ? fr.eth.ethertype == kEtherIpv6 : (rest[0] >> 4) == 6) {
    auto ip = decode_ipv6(rest, l3);
    if (!ip) return ip.error();
    fr.ipv6 = true;
    fr.ip6 = *ip;
    if (fr.ip6.next_header != kIpProtoUdp) return wire_error(Errc::not_udp, "ipv6.next_header", l3 + 6);
    ip_len = kIpv6Len;
    datagram_len = kIpv6Len + fr.ip6.payload_length;
  } else {
    auto ip = decode_ipv4(rest, l3);
    if (!ip) return ip.error();
    fr.ip4 = *ip;
    if (fr.ip4.protocol != kIpProtoUdp) return wire_error(Errc::not_udp, "ipv4.protocol", l3 + 9);
    if (fr.ip4.mf || fr.ip4.frag_offset != 0) return wire_error(Errc::fragmented, "ipv4.flags", l3 + 6);
    ip_len = fr.ip4.size();
    datagram_len = fr.ip4.total_length;
  }
  fr.udp_offset = l3 + ip_len;
  auto udp = decode_udp(rest.subspan(ip_len, datagram_len - ip_len), fr.udp_offset);
  if (!udp) return udp.error();
  fr.udp = *udp;
  if (fr.udp.length != datagram_len - ip_len) return wire_error(Errc::bad_length, "udp.length", fr.udp_offset + 4);
  if (fr.udp.dst_port != roce_port) return wire_error(Errc::not_roce, "udp.dst_port", fr.udp_offset + 2);
  fr.roce_offset = fr.udp_offset + kUdpLen;
  if (auto e = decode_roce_into(fr.roce, rest.subspan(ip_len + kUdpLen, fr.udp.length - kUdpLen), fr.roce_offset))
    return e;
  fr.l3 = rest.first(datagram_len);
  return std::nullopt;
}
}  // namespace

Result<Frame> decode_frame(std::span<const uint8_t> b, LinkType link, uint16_t roce_port) {
  Result<Frame> r{std::in_place};
  if (auto e = decode_frame_into(r.value(), b, link, roce_port)) r = *e;
  return r;  // one return path: NRVO, no copy
}

bool frame_icrc_ok(const Frame& f) { return icrc_verify(f.l3); }

size_t frame_encoded_len(const FrameSpec& spec, uint8_t opcode, size_t payload_len) {
  EthHeader eth = spec.eth;
  size_t l2 = spec.link == LinkType::ethernet ? eth.size() : 0;
  return l2 + (spec.ipv6 ? kIpv6Len : kIpv4Len) + kUdpLen + roce_encoded_len(opcode, payload_len);
}

Result<size_t> encode_frame(const FrameSpec& spec, const RoceFields& f, std::span<const uint8_t> payload,
                            std::span<uint8_t> out) {
  if (opcode_info(f.bth.opcode) == nullptr) return wire_error(Errc::unknown_opcode, "bth.opcode", 0);
  const size_t need = frame_encoded_len(spec, f.bth.opcode, payload.size());
  if (out.size() < need) return WireError{Errc::no_space, "output buffer", 0, need, out.size()};
  size_t pos = 0;
  if (spec.link == LinkType::ethernet) {
    EthHeader eth = spec.eth;
    eth.ethertype = spec.ipv6 ? kEtherIpv6 : kEtherIpv4;
    pos = encode_eth(eth, out.data());
  }
  const size_t l3 = pos;
  const size_t ip_len = spec.ipv6 ? kIpv6Len : kIpv4Len;
  const size_t roce_len = roce_encoded_len(f.bth.opcode, payload.size());
  const size_t udp_len = kUdpLen + roce_len;
  if (udp_len > 0xFFFF) return wire_error(Errc::bad_length, "udp.length (payload too large)", l3 + ip_len + 4);
  if (spec.ipv6) {
    Ipv6Header ip = spec.ip6;
    ip.payload_length = static_cast<uint16_t>(udp_len);
    ip.next_header = kIpProtoUdp;
    encode_ipv6(ip, out.data() + l3);
  } else {
    Ipv4Header ip = spec.ip4;
    ip.ihl = 5;
    ip.total_length = static_cast<uint16_t>(kIpv4Len + udp_len);
    ip.protocol = kIpProtoUdp;
    encode_ipv4(ip, out.data() + l3);
  }
  encode_udp(UdpHeader{spec.src_port, spec.dst_port, static_cast<uint16_t>(udp_len), 0}, out.data() + l3 + ip_len);
  auto r = encode_roce(f, payload, out.subspan(l3 + ip_len + kUdpLen));
  if (!r) return r.error();
  auto l3span = std::span<const uint8_t>(out.data() + l3, ip_len + udp_len - kIcrcLen);
  auto crc = icrc_compute(l3span);
  if (!crc) return crc.error();
  store_le32(out.data() + l3 + ip_len + udp_len - kIcrcLen, *crc);
  return need;
}

}  // namespace rfab::wire
