// Truncated, oversized and garbage inputs give the right typed error, naming field and offset.
#include <gtest/gtest.h>

#include <random>

#include "rfab/wire/packet.hpp"
#include "rfab/wire/sample.hpp"

using namespace rfab::wire;

namespace {
std::vector<uint8_t> write_only_frame() {
  RoceFields f;
  f.bth.opcode = op::RC_WRITE_ONLY;
  f.reth = Reth{0x1000, 0x42, 8};
  FrameSpec spec;
  std::vector<uint8_t> payload(8, 0x5A), out(frame_encoded_len(spec, f.bth.opcode, 8));
  EXPECT_TRUE(encode_frame(spec, f, payload, out));
  return out;  // 14 eth + 20 ip + 8 udp + 12 bth + 16 reth + 8 payload + 4 icrc = 82
}
}  // namespace

TEST(Malformed, EveryTruncationIsATypedErrorNeverACrash) {
  for (bool v6 : {false, true}) {
    for (const auto& s : sample_every_opcode({.ipv6 = v6, .vlan = 7})) {
      for (size_t n = 0; n < s.bytes.size(); ++n) {
        auto fr = decode_frame(std::span<const uint8_t>(s.bytes).first(n));
        ASSERT_FALSE(fr) << "prefix " << n << " of " << s.bytes.size() << " decoded";
        EXPECT_EQ(fr.error().code, Errc::truncated) << fr.error().message();
        EXPECT_LE(fr.error().offset, n);
      }
    }
  }
}

TEST(Malformed, ErrorsNameFieldAndOffset) {
  auto good = write_only_frame();
  ASSERT_EQ(good.size(), 82u);

  auto b = good;
  b[12] = 0x08, b[13] = 0x06;  // ARP
  auto e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::not_ip);
  EXPECT_STREQ(e.field, "ethertype");
  EXPECT_EQ(e.offset, 12u);

  b = good;
  b[14] = 0x55;  // IP version 5
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::bad_version);
  EXPECT_EQ(e.offset, 14u);

  b = good;
  b[23] = 6;  // TCP
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::not_udp);
  EXPECT_STREQ(e.field, "ipv4.protocol");
  EXPECT_EQ(e.offset, 23u);

  b = good;
  b[20] = 0x20;  // MF
  EXPECT_EQ(decode_frame(b).error().code, Errc::fragmented);

  b = good;
  b[36] = 0x12, b[37] = 0x34;  // dst port
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::not_roce);
  EXPECT_EQ(e.offset, 36u);

  b = good;
  b[42] = 0x15;  // reserved RC opcode
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::unknown_opcode);
  EXPECT_STREQ(e.field, "bth.opcode");
  EXPECT_EQ(e.offset, 42u);

  b = good;
  b[43] |= 0x01;  // tver 1
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::bad_version);
  EXPECT_EQ(e.offset, 43u);

  b = good;
  b[42] = op::RC_WRITE_FIRST;  // first packets carry no pad
  b[43] = 0x10;
  EXPECT_EQ(decode_frame(b).error().code, Errc::bad_pad);

  b = good;
  b[42] = op::RC_READ_REQUEST;  // no payload allowed, but 8 bytes follow the RETH
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::bad_payload);
  EXPECT_EQ(e.offset, 70u);

  b = good;
  b[39] = static_cast<uint8_t>(b[39] - 1);  // UDP length one short of the IP payload
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::bad_length);
  EXPECT_STREQ(e.field, "udp.length");

  b = good;
  b[17] = static_cast<uint8_t>(b[17] + 10);  // IP total length beyond the frame
  e = decode_frame(b).error();
  EXPECT_EQ(e.code, Errc::truncated);
  EXPECT_NE(e.message().find("ipv4 datagram"), std::string::npos);
}

TEST(Malformed, OversizedFrameTrailingBytesIgnoredButLengthsHonoured) {
  auto b = write_only_frame();
  b.resize(b.size() + 40, 0xEE);  // Ethernet padding / trailer
  auto fr = decode_frame(b);
  ASSERT_TRUE(fr) << fr.error().message();
  EXPECT_EQ(fr->roce.payload.size(), 8u);
  EXPECT_TRUE(frame_icrc_ok(*fr));
}

TEST(Malformed, RandomGarbageNeverCrashes) {
  std::mt19937 rng(1234);
  std::vector<uint8_t> buf;
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    buf.resize(rng() % 200);
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    if (buf.size() > 40 && (i & 1)) {  // make half of them look like IPv4/UDP 4791 to reach deeper
      buf[0] = 0x45;
      buf[2] = 0, buf[3] = static_cast<uint8_t>(buf.size());
      buf[6] = 0x40, buf[7] = 0;
      buf[9] = 17;
      buf[22] = 0x12, buf[23] = 0xB7;
      buf[24] = 0, buf[25] = static_cast<uint8_t>(buf.size() - 20);
    }
    auto fr = decode_frame(buf, LinkType::raw_ip);
    if (fr) {
      ++decoded;
      EXPECT_LE(fr->roce.payload.size(), buf.size());
    } else {
      EXPECT_FALSE(fr.error().message().empty());
    }
  }
  EXPECT_GT(decoded, 0);  // some random BTHs are valid: the deep paths ran
}
