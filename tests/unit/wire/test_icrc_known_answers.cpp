// ICRC known answers that do not come from rfab's encoder: two vectors assembled by hand from the spec
// rule with zlib (see the comment on each), and every RoCE packet Linux soft-RoCE (rdma_rxe) sent in the
// captures under tests/data/rxe.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"
#include "test_support.hpp"

using namespace rfab::wire;
using rfab::test::data_path;
using rfab::test::from_hex;

namespace {
// IPv4 (TOS 0x02, ID 0x1234, DF) 10.0.0.1 -> 10.0.0.2, UDP 0xc123 -> 4791, RC RDMA WRITE ONLY to QP 0x12,
// PSN 7, AckReq, RETH va 0x1000 rkey 0x2000 len 32, payload 00..1f. ICRC = zlib.crc32(8*ff + masked
// IP/UDP/BTH + RETH + payload) = 0xa4ebed3b, stored little-endian.
const char* kV4WriteOnly =
    "4502005c12344000401114590a0000010a000002c12312b7004800000a00ffff000000128000000700000000000010000000200000"
    "000020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f3bedeba4";
// IPv6 fd00::1 -> fd00::2, tclass 0x68, flow 0x12345, hop 9, UDP checksum 0x1111 (masked), RC SEND ONLY
// "hello" + 3 pad bytes, BECN set (masked), PSN 0xffffff. ICRC 0x9eeda225.
const char* kV6SendOnly =
    "6681234500201109fd000000000000000000000000000001fd000000000000000000000000000002d00012b7002011110430ffff40"
    "00009980ffffff68656c6c6f00000025a2ed9e";
}  // namespace

TEST(IcrcKnownAnswer, HandBuiltIpv4WriteOnly) {
  auto bytes = from_hex(kV4WriteOnly);
  auto fr = decode_frame(bytes, LinkType::raw_ip);
  ASSERT_TRUE(fr) << fr.error().message();
  EXPECT_EQ(fr->roce.f.bth.opcode, op::RC_WRITE_ONLY);
  EXPECT_EQ(fr->roce.f.bth.dest_qp, 0x12u);
  EXPECT_EQ(fr->roce.f.bth.psn, 7u);
  EXPECT_TRUE(fr->roce.f.bth.ack_req);
  EXPECT_EQ(fr->roce.f.reth.va, 0x1000u);
  EXPECT_EQ(fr->roce.f.reth.rkey, 0x2000u);
  EXPECT_EQ(fr->roce.f.reth.dma_len, 32u);
  EXPECT_EQ(fr->roce.payload.size(), 32u);
  EXPECT_EQ(fr->ip4.ecn, Ecn::ect0);
  EXPECT_EQ(fr->roce.icrc, 0xa4ebed3bu);
  auto c = icrc_compute(fr->l3.first(fr->l3.size() - 4));
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 0xa4ebed3bu);
  EXPECT_TRUE(frame_icrc_ok(*fr));
}

TEST(IcrcKnownAnswer, HandBuiltIpv6SendOnlyWithPad) {
  auto bytes = from_hex(kV6SendOnly);
  auto fr = decode_frame(bytes, LinkType::raw_ip);
  ASSERT_TRUE(fr) << fr.error().message();
  EXPECT_TRUE(fr->ipv6);
  EXPECT_EQ(fr->roce.f.bth.opcode, op::RC_SEND_ONLY);
  EXPECT_EQ(fr->roce.f.bth.pad, 3);
  EXPECT_TRUE(fr->roce.f.bth.becn);
  EXPECT_EQ(fr->roce.f.bth.psn, 0xFFFFFFu);
  EXPECT_EQ(std::string(fr->roce.payload.begin(), fr->roce.payload.end()), "hello");
  EXPECT_EQ(fr->roce.icrc, 0x9eeda225u);
  EXPECT_TRUE(frame_icrc_ok(*fr));
}

TEST(IcrcKnownAnswer, MaskedFieldsDoNotChangeIcrcOthersDo) {
  const auto orig = from_hex(kV4WriteOnly);
  // Masked: TOS (1), TTL (8), IP checksum (10, 11), UDP checksum (26, 27), BTH byte 4 (32).
  const std::vector<size_t> masked = {1, 8, 10, 11, 26, 27, 32};
  for (size_t i = 0; i + 4 < orig.size(); ++i) {
    auto b = orig;
    b[i] ^= 0x01;
    bool is_masked = std::find(masked.begin(), masked.end(), i) != masked.end();
    auto c = icrc_compute(std::span<const uint8_t>(b).first(b.size() - 4));
    if (!c) continue;  // flipping the version/IHL nibble makes it not an IP header: fine
    EXPECT_EQ(*c == 0xa4ebed3bu, is_masked) << "byte " << i;
  }
}

TEST(IcrcKnownAnswer, SplitFormMatchesWholeForm) {
  auto b = from_hex(kV4WriteOnly);
  std::span<const uint8_t> s(b);
  EXPECT_EQ(icrc_compute_split(s.first(28), s.subspan(28, s.size() - 28 - 4)), 0xa4ebed3bu);
  auto b6 = from_hex(kV6SendOnly);
  std::span<const uint8_t> s6(b6);
  EXPECT_EQ(icrc_compute_split(s6.first(48), s6.subspan(48, s6.size() - 48 - 4)), 0x9eeda225u);
}

namespace {
struct CaptureStats {
  int roce = 0, ok = 0;
  std::map<uint8_t, int> opcodes;
};
CaptureStats check_capture(const std::string& file) {
  CaptureStats st;
  rfab::pcap::Reader r(data_path(file));
  rfab::pcap::Record rec;
  while (r.next(rec)) {
    auto fr = decode_frame(rec.data, rec.link);
    if (!fr) {
      EXPECT_TRUE(fr.error().code == Errc::not_udp || fr.error().code == Errc::not_roce) << fr.error().message();
      continue;
    }
    ++st.roce;
    st.opcodes[fr->roce.f.bth.opcode]++;
    EXPECT_TRUE(fr->ip4.df);                      // rxe sets DF
    EXPECT_EQ(fr->udp.checksum, 0);               // and leaves the UDP checksum 0
    EXPECT_EQ(fr->udp.src_port & 0xC000, 0xC000); // source port 0xC000 | hash(QPN)
    if (frame_icrc_ok(*fr)) ++st.ok;
  }
  return st;
}
}  // namespace

TEST(IcrcKnownAnswer, LinuxRxeSendCapture) {
  auto st = check_capture("rxe/mtu1024_send_64.pcap");
  EXPECT_GT(st.roce, 50);
  EXPECT_EQ(st.ok, st.roce);
  EXPECT_GE(st.opcodes[op::RC_SEND_ONLY], 50);
  EXPECT_GT(st.opcodes[op::RC_ACK], 0);
}

TEST(IcrcKnownAnswer, LinuxRxeReadCapture) {
  auto st = check_capture("rxe/mtu1024_read_64.pcap");
  EXPECT_GT(st.roce, 50);
  EXPECT_EQ(st.ok, st.roce);
  EXPECT_GE(st.opcodes[op::RC_READ_REQUEST], 50);
  EXPECT_GE(st.opcodes[op::RC_READ_RESPONSE_ONLY], 50);
}

TEST(IcrcKnownAnswer, OurEncoderReproducesRxeFramesByteForByte) {
  // Re-encode every rxe packet from its decoded fields and the same IP/UDP header values: the bytes,
  // ICRC included, must be identical.
  rfab::pcap::Reader r(data_path("rxe/mtu1024_read_64.pcap"));
  rfab::pcap::Record rec;
  int checked = 0;
  while (r.next(rec)) {
    auto fr = decode_frame(rec.data, rec.link);
    if (!fr) continue;
    FrameSpec spec;
    spec.eth = fr->eth;
    spec.ip4 = fr->ip4;
    spec.src_port = fr->udp.src_port;
    std::vector<uint8_t> out(frame_encoded_len(spec, fr->roce.f.bth.opcode, fr->roce.payload.size()));
    auto n = encode_frame(spec, fr->roce.f, fr->roce.payload, out);
    ASSERT_TRUE(n);
    const size_t frame_len = fr->l3_offset + fr->l3.size();
    ASSERT_EQ(*n, frame_len);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), rec.data.begin())) << "frame " << checked;
    ++checked;
  }
  EXPECT_GT(checked, 50);
}
