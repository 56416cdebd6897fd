#include "rfab/wire/headers.hpp"

#include <cstring>

#include "rfab/wire/bytes.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::wire {

Result<EthHeader> decode_eth(std::span<const uint8_t> b, size_t offset) {
  if (b.size() < kEthLen) return truncated("ethernet header", offset, 14, b.size());
  EthHeader h;
  std::memcpy(h.dst.data(), b.data(), 6);
  std::memcpy(h.src.data(), b.data() + 6, 6);
  size_t pos = 12;
  uint16_t type = load_be16(b.data() + pos);
  while (type == kEtherVlan || type == kEtherQinQ) {
    if (h.vlan_count == 2) return wire_error(Errc::bad_field, "vlan (more than two tags)", offset + pos);
    if (b.size() < pos + 6) return truncated("vlan tag", offset + pos, pos + 6, b.size());
    uint16_t tci = load_be16(b.data() + pos + 2);
    h.vlan[h.vlan_count++] = VlanTag{type, static_cast<uint8_t>(tci >> 13), ((tci >> 12) & 1) != 0,
                                     static_cast<uint16_t>(tci & 0x0FFF)};
    pos += 4;
    type = load_be16(b.data() + pos);
  }
  h.ethertype = type;
  return h;
}

size_t encode_eth(const EthHeader& h, uint8_t* out) {
  std::memcpy(out, h.dst.data(), 6);
  std::memcpy(out + 6, h.src.data(), 6);
  size_t pos = 12;
  for (uint8_t i = 0; i < h.vlan_count && i < 2; ++i) {
    const VlanTag& t = h.vlan[i];
    store_be16(out + pos, t.tpid);
    store_be16(out + pos + 2, static_cast<uint16_t>((t.pcp & 7) << 13 | (t.dei ? 1 : 0) << 12 | (t.vid & 0xFFF)));
    pos += 4;
  }
  store_be16(out + pos, h.ethertype);
  return pos + 2;
}

uint16_t ipv4_header_checksum(const uint8_t* hdr, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) {
    if (i == 10) continue;  // the checksum field itself counts as zero
    sum += load_be16(hdr + i);
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Result<Ipv4Header> decode_ipv4(std::span<const uint8_t> b, size_t offset) {
  if (b.size() < kIpv4Len) return truncated("ipv4 header", offset, kIpv4Len, b.size());
  const uint8_t* p = b.data();
  if ((p[0] >> 4) != 4) return wire_error(Errc::bad_version, "ipv4.version", offset);
  Ipv4Header h;
  h.ihl = p[0] & 0x0F;
  if (h.ihl < 5) return wire_error(Errc::bad_length, "ipv4.ihl", offset);
  if (b.size() < h.size()) return truncated("ipv4 options", offset, h.size(), b.size());
  h.dscp = static_cast<uint8_t>(p[1] >> 2);
  h.ecn = static_cast<Ecn>(p[1] & 3);
  h.total_length = load_be16(p + 2);
  h.id = load_be16(p + 4);
  uint16_t ff = load_be16(p + 6);
  h.df = (ff & 0x4000) != 0;
  h.mf = (ff & 0x2000) != 0;
  h.frag_offset = ff & 0x1FFF;
  h.ttl = p[8];
  h.protocol = p[9];
  h.checksum = load_be16(p + 10);
  h.src = load_be32(p + 12);
  h.dst = load_be32(p + 16);
  if (h.total_length < h.size()) return wire_error(Errc::bad_length, "ipv4.total_length", offset + 2);
  if (h.total_length > b.size()) return truncated("ipv4 datagram", offset, h.total_length, b.size());
  return h;
}

void encode_ipv4(const Ipv4Header& h, uint8_t* out) {
  out[0] = 0x45;
  out[1] = static_cast<uint8_t>(h.dscp << 2 | static_cast<uint8_t>(h.ecn));
  store_be16(out + 2, h.total_length);
  store_be16(out + 4, h.id);
  store_be16(out + 6, static_cast<uint16_t>((h.df ? 0x4000 : 0) | (h.mf ? 0x2000 : 0) | (h.frag_offset & 0x1FFF)));
  out[8] = h.ttl;
  out[9] = h.protocol;
  store_be16(out + 10, 0);
  store_be32(out + 12, h.src);
  store_be32(out + 16, h.dst);
  store_be16(out + 10, ipv4_header_checksum(out, kIpv4Len));
}

Result<Ipv6Header> decode_ipv6(std::span<const uint8_t> b, size_t offset) {
  if (b.size() < kIpv6Len) return truncated("ipv6 header", offset, kIpv6Len, b.size());
  const uint8_t* p = b.data();
  if ((p[0] >> 4) != 6) return wire_error(Errc::bad_version, "ipv6.version", offset);
  Ipv6Header h;
  uint32_t w = load_be32(p);
  uint8_t tc = static_cast<uint8_t>(w >> 20);
  h.dscp = static_cast<uint8_t>(tc >> 2);
  h.ecn = static_cast<Ecn>(tc & 3);
  h.flow_label = w & 0xFFFFF;
  h.payload_length = load_be16(p + 4);
  h.next_header = p[6];
  h.hop_limit = p[7];
  std::memcpy(h.src.data(), p + 8, 16);
  std::memcpy(h.dst.data(), p + 24, 16);
  if (size_t{h.payload_length} + kIpv6Len > b.size())
    return truncated("ipv6 payload", offset + kIpv6Len, h.payload_length, b.size() - kIpv6Len);
  return h;
}

void encode_ipv6(const Ipv6Header& h, uint8_t* out) {
  uint8_t tc = static_cast<uint8_t>(h.dscp << 2 | static_cast<uint8_t>(h.ecn));
  store_be32(out, (6u << 28) | (uint32_t{tc} << 20) | (h.flow_label & 0xFFFFF));
  store_be16(out + 4, h.payload_length);
  out[6] = h.next_header;
  out[7] = h.hop_limit;
  std::memcpy(out + 8, h.src.data(), 16);
  std::memcpy(out + 24, h.dst.data(), 16);
}

Result<UdpHeader> decode_udp(std::span<const uint8_t> b, size_t offset) {
  if (b.size() < kUdpLen) return truncated("udp header", offset, kUdpLen, b.size());
  UdpHeader h{load_be16(b.data()), load_be16(b.data() + 2), load_be16(b.data() + 4), load_be16(b.data() + 6)};
  if (h.length < kUdpLen) return wire_error(Errc::bad_length, "udp.length", offset + 4);
  if (h.length > b.size()) return truncated("udp datagram", offset, h.length, b.size());
  return h;
}

void encode_udp(const UdpHeader& h, uint8_t* out) {
  store_be16(out, h.src_port);
  store_be16(out + 2, h.dst_port);
  store_be16(out + 4, h.length);
  store_be16(out + 6, h.checksum);
}

Bth decode_bth(const uint8_t* p) {
  Bth h;
  h.opcode = p[0];
  h.se = (p[1] & 0x80) != 0;
  h.mig = (p[1] & 0x40) != 0;
  h.pad = (p[1] >> 4) & 3;
  h.tver = p[1] & 0x0F;
  h.pkey = load_be16(p + 2);
  h.fecn = (p[4] & 0x80) != 0;
  h.becn = (p[4] & 0x40) != 0;
  h.dest_qp = load_be24(p + 5);
  h.ack_req = (p[8] & 0x80) != 0;
  h.psn = load_be24(p + 9);
  return h;
}

void encode_bth(const Bth& h, uint8_t* out) {
  out[0] = h.opcode;
  out[1] = static_cast<uint8_t>((h.se ? 0x80 : 0) | (h.mig ? 0x40 : 0) | (h.pad & 3) << 4 | (h.tver & 0x0F));
  store_be16(out + 2, h.pkey);
  out[4] = static_cast<uint8_t>((h.fecn ? 0x80 : 0) | (h.becn ? 0x40 : 0));
  store_be24(out + 5, h.dest_qp & 0xFFFFFF);
  out[8] = h.ack_req ? 0x80 : 0;
  store_be24(out + 9, h.psn & 0xFFFFFF);
}

Reth decode_reth(const uint8_t* p) { return Reth{load_be64(p), load_be32(p + 8), load_be32(p + 12)}; }
void encode_reth(const Reth& h, uint8_t* out) {
  store_be64(out, h.va);
  store_be32(out + 8, h.rkey);
  store_be32(out + 12, h.dma_len);
}

Aeth decode_aeth(const uint8_t* p) { return Aeth{p[0], load_be24(p + 1)}; }
void encode_aeth(const Aeth& h, uint8_t* out) {
  out[0] = h.syndrome;
  store_be24(out + 1, h.msn & 0xFFFFFF);
}

AtomicEth decode_atomic_eth(const uint8_t* p) {
  return AtomicEth{load_be64(p), load_be32(p + 8), load_be64(p + 12), load_be64(p + 20)};
}
void encode_atomic_eth(const AtomicEth& h, uint8_t* out) {
  store_be64(out, h.va);
  store_be32(out + 8, h.rkey);
  store_be64(out + 12, h.swap_add);
  store_be64(out + 20, h.compare);
}

AtomicAckEth decode_atomic_ack_eth(const uint8_t* p) { return AtomicAckEth{load_be64(p)}; }
void encode_atomic_ack_eth(const AtomicAckEth& h, uint8_t* out) { store_be64(out, h.orig); }

Deth decode_deth(const uint8_t* p) { return Deth{load_be32(p), load_be24(p + 5)}; }
void encode_deth(const Deth& h, uint8_t* out) {
  store_be32(out, h.qkey);
  out[4] = 0;
  store_be24(out + 5, h.src_qp & 0xFFFFFF);
}

}  // namespace rfab::wire
