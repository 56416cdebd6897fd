// The headers the frame datapaths write and read: frames built by HeaderTemplate decode with fabric/wire
// (the codec `rfab decode` uses) with a valid ICRC and IP checksum, and a valid UDP checksum where one is
// written; parse_frame accepts exactly RoCE v2 to the RoCE port and says why it rejects the rest.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "rfab/frame/frame_codec.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/packet.hpp"

namespace {
using namespace rfab;

const frame::Mac kSrcMac{{0x02, 0, 0, 0, 0, 0x01}}, kDstMac{{0x02, 0, 0, 0, 0, 0x02}};

// A RoCE WRITE ONLY packet (BTH + RETH + payload + ICRC slot) for the frame at offset `hdr`.
std::vector<uint8_t> frame_with_packet(size_t hdr, size_t payload_len, size_t& roce_len) {
  wire::RoceFields f;
  f.bth.opcode = 0x0A;  // RC RDMA WRITE ONLY
  f.bth.dest_qp = 0x123456;
  f.bth.psn = 77;
  f.reth.va = 0x1000;
  f.reth.rkey = 5;
  f.reth.dma_len = static_cast<uint32_t>(payload_len);
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(i * 7);
  roce_len = wire::roce_encoded_len(f.bth.opcode, payload_len);
  std::vector<uint8_t> frame(hdr + roce_len);
  EXPECT_TRUE(wire::encode_roce(f, payload, std::span<uint8_t>(frame).subspan(hdr)).ok());
  return frame;
}

// The one's-complement sum of `len` bytes plus `initial`, folded (0xFFFF when a checksum over them is right).
uint16_t sum16(const uint8_t* p, size_t len, uint32_t initial = 0) {
  uint32_t acc = initial;
  for (size_t i = 0; i + 1 < len; i += 2) acc += wire::load_be16(p + i);
  if (len % 2) acc += uint32_t{p[len - 1]} << 8;
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

uint16_t udp_sum_with_pseudo_header(const uint8_t* ip, bool v6, size_t udp_len) {
  uint32_t pseudo = 17 + static_cast<uint32_t>(udp_len);
  pseudo += sum16(ip + (v6 ? 8 : 12), v6 ? 32 : 8);
  return sum16(ip + (v6 ? 40 : 20), udp_len, pseudo);
}

class Codec : public ::testing::TestWithParam<bool> {};

TEST_P(Codec, BuiltFramesDecodeWithAValidIcrcAndChecksums) {
  const bool v6 = GetParam();
  const auto src = *udp::Address::parse(v6 ? "fd00::1" : "10.0.0.1");
  const auto dst = *udp::Address::parse(v6 ? "fd00::2" : "10.0.0.2");
  const frame::HeaderTemplate t(kSrcMac, kDstMac, src, dst);
  ASSERT_EQ(t.len(), v6 ? frame::kIpv6FrameHeaders : frame::kIpv4FrameHeaders);
  for (size_t payload : {size_t{0}, size_t{1}, size_t{333}, size_t{2048}}) {
    for (bool udp_csum : {false, true}) {
      size_t roce_len = 0;
      std::vector<uint8_t> f = frame_with_packet(t.len(), payload, roce_len);
      ASSERT_EQ(t.finish(f.data(), roce_len, 0xC123, 4791, frame::kEct0, udp_csum), f.size());
      auto d = wire::decode_frame(f);
      ASSERT_TRUE(d.ok()) << d.error().message();
      EXPECT_TRUE(wire::frame_icrc_ok(*d)) << payload;
      EXPECT_EQ(d->udp.src_port, 0xC123);
      EXPECT_EQ(d->roce.f.bth.dest_qp, 0x123456u);
      EXPECT_EQ(d->eth.dst, kDstMac.b);
      const uint8_t* ip = f.data() + 14;
      if (!v6) {
        EXPECT_EQ(sum16(ip, 20), 0xFFFF);             // IPv4 header checksum
        EXPECT_EQ(wire::load_be16(ip + 4), 0);        // ID 0 ...
        EXPECT_EQ(wire::load_be16(ip + 6), 0x4000);   // ... with DF, as a DF kernel socket's plain send
        EXPECT_EQ(ip[1] & 3, 2);                      // ECT(0)
      }
      const uint16_t csum = wire::load_be16(ip + (v6 ? 40 : 20) + 6);
      if (v6 || udp_csum) EXPECT_EQ(udp_sum_with_pseudo_header(ip, v6, 8 + roce_len), 0xFFFF) << payload;
      else EXPECT_EQ(csum, 0);

      frame::RoceFrame rf;
      ASSERT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::roce);
      EXPECT_TRUE(rf.src.same_ip(src));
      EXPECT_TRUE(rf.dst.same_ip(dst));
      EXPECT_EQ(rf.src.port, 0xC123);
      EXPECT_EQ(rf.udp_payload.size(), roce_len);
      EXPECT_FALSE(rf.ecn_ce);
      EXPECT_TRUE(frame::icrc_matches(rf));
    }
  }
}

TEST_P(Codec, AFlippedBitFailsTheIcrcAndCeIsRead) {
  const bool v6 = GetParam();
  const frame::HeaderTemplate t(kSrcMac, kDstMac, *udp::Address::parse(v6 ? "fd00::1" : "10.0.0.1"),
                                *udp::Address::parse(v6 ? "fd00::2" : "10.0.0.2"));
  size_t roce_len = 0;
  std::vector<uint8_t> f = frame_with_packet(t.len(), 100, roce_len);
  t.finish(f.data(), roce_len, 0xC000, 4791, 3, false);  // CE
  frame::RoceFrame rf;
  ASSERT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::roce);
  EXPECT_TRUE(rf.ecn_ce);
  EXPECT_TRUE(frame::icrc_matches(rf));
  f[t.len() + 40] ^= 0x10;  // payload
  ASSERT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::roce);
  EXPECT_FALSE(frame::icrc_matches(rf));
}

INSTANTIATE_TEST_SUITE_P(Frame, Codec, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? std::string("ipv6") : std::string("ipv4"); });

TEST(ParseFrame, SaysWhatIsNotRoceAndWhatIsBroken) {
  const frame::HeaderTemplate t(kSrcMac, kDstMac, *udp::Address::parse("10.0.0.1"), *udp::Address::parse("10.0.0.2"));
  size_t roce_len = 0;
  std::vector<uint8_t> good = frame_with_packet(t.len(), 64, roce_len);
  t.finish(good.data(), roce_len, 0xC000, 4791, 0, false);
  frame::RoceFrame rf;
  EXPECT_EQ(frame::parse_frame(good, 4792, rf), frame::FrameKind::other);  // another UDP port
  std::vector<uint8_t> f = good;
  f.resize(f.size() - 10);  // cut: the IP length claims more than the frame has
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::malformed);
  f = good;
  f.resize(f.size() + 20, 0);  // Ethernet padding after the datagram is ignored
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::roce);
  EXPECT_EQ(rf.udp_payload.size(), roce_len);
  f = good;
  wire::store_be16(f.data() + 14 + 6, 0x2000);  // more fragments: never RoCE v2
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::other);
  f = good;
  wire::store_be16(f.data() + 12, 0x8100);  // VLAN-tagged: not handled by the frame datapaths
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::other);
  f = good;
  wire::store_be16(f.data() + 12, frame::kEtherArp);
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::arp);
  EXPECT_EQ(frame::parse_frame(std::span<const uint8_t>(good).first(10), 4791, rf), frame::FrameKind::other);
  f = good;
  wire::store_be16(f.data() + 14 + 20 + 4, 8 + 4);  // UDP length too short for a BTH and an ICRC
  EXPECT_EQ(frame::parse_frame(f, 4791, rf), frame::FrameKind::malformed);
}

}  // namespace
