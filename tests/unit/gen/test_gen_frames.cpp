// Every frame the generator builds decodes with fabric/wire (what `rfab decode` uses) with a valid ICRC, and
// carries the addresses, ports, ECN marks and fields the packet asked for.
#include <gtest/gtest.h>

#include <vector>

#include "rfab/gen/frame_builder.hpp"
#include "rfab/wire/packet.hpp"

namespace {
namespace gen = rfab::gen;
namespace w = rfab::wire;

TEST(GenFrames, EveryFrameDecodesWithItsIcrcAndMarks) {
  for (bool v6 : {false, true}) {
    gen::GenConfig c;
    c.mix = gen::parse_mix("write=4,send=3,read=3");
    c.qps = 3;
    c.msg_size = 5000;
    c.mtu = 2048;
    c.gap_rate = 0.05;
    c.ecn_ce_rate = c.cnp_rate = c.nak_rate = 0.2;
    if (v6) {
      c.src_ip = *rfab::udp::Address::parse("fd00::1");
      c.dst_ip = *rfab::udp::Address::parse("fd00::2");
    }
    gen::TrafficModel m(c);
    gen::FrameBuilder b(c);
    std::vector<uint8_t> buf(4096 + 256);
    int ce = 0, cnp = 0;
    for (int i = 0; i < 3000; ++i) {
      const gen::GenPacket p = m.next();
      const size_t len = b.build(p, buf);
      ASSERT_EQ(len, b.frame_len(p));
      auto f = w::decode_frame(std::span<const uint8_t>(buf.data(), len));
      ASSERT_TRUE(f) << "frame " << i;
      EXPECT_TRUE(w::frame_icrc_ok(*f)) << "frame " << i;
      EXPECT_EQ(f->ipv6, v6);
      EXPECT_EQ(f->roce.f.bth.opcode, p.opcode);
      EXPECT_EQ(f->roce.f.bth.psn, p.psn);
      EXPECT_EQ(f->roce.f.bth.dest_qp, (p.reverse ? c.requester_qpn : c.responder_qpn) + p.qp);
      EXPECT_EQ(f->udp.src_port, c.sport_base + p.qp);
      EXPECT_EQ(f->udp.dst_port, 4791);
      EXPECT_EQ(f->roce.payload.size(), p.payload_len);
      if (p.opcode == w::op::CNP) {
        ++cnp;
        EXPECT_EQ(f->ecn(), w::Ecn::not_ect);
      } else {
        EXPECT_EQ(f->ecn(), p.ce ? w::Ecn::ce : w::Ecn::ect0);
        ce += p.ce;
      }
    }
    EXPECT_GT(ce, 100);
    EXPECT_GT(cnp, 100);
  }
}

TEST(GenFrames, TooSmallABufferIsAClearError) {
  gen::GenConfig c;
  c.mtu = 4096;
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  std::vector<uint8_t> buf(2048);
  try {
    b.build(m.next(), buf);
    FAIL();
  } catch (const gen::GenError& e) {
    EXPECT_NE(std::string(e.what()).find("--mtu"), std::string::npos);
  }
}

}  // namespace
