// Every frame the generator builds decodes with fabric/wire (what `rfab decode` uses) with a valid ICRC, and
// carries the addresses, ports, ECN marks and fields the packet asked for.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "rfab/gen/frame_builder.hpp"
#include "rfab/gen/held_frames.hpp"
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

// Every opcode the model makes, gaps, CE marks, CNPs and NAKs, messages of several packets, and PSNs that
// wrap past 2^24 within the first frames.
gen::GenConfig every_kind_of_frame(uint64_t seed) {
  gen::GenConfig c;
  c.mix = gen::parse_mix("write=4,send=3,read=3");
  c.qps = 5;
  c.msg_size = 3000;
  c.mtu = 1024;
  c.gap_rate = 0.05;
  c.ecn_ce_rate = c.cnp_rate = c.nak_rate = 0.2;
  c.start_psn = 0xFFFF00;
  c.seed = seed;
  return c;
}

// Frames from the templates (PSN, MSN and ICRC patched) are byte for byte the frames built from scratch:
// every opcode the model makes, CE marks, CNPs, NAKs, READ responses with their MSNs, PSNs wrapping past
// 2^24, and IPv6 (built from scratch) next to IPv4.
TEST(GenFrames, TemplatedFramesEqualFramesBuiltFromScratch) {
  for (bool v6 : {false, true}) {
    gen::GenConfig c = every_kind_of_frame(7);
    if (v6) {
      c.src_ip = *rfab::udp::Address::parse("fd00::1");
      c.dst_ip = *rfab::udp::Address::parse("fd00::2");
    }
    gen::TrafficModel m(c);
    gen::FrameBuilder b(c);
    std::vector<uint8_t> fast(4096 + 256), slow(4096 + 256);
    int msn_nonzero = 0, wrapped = 0;
    for (int i = 0; i < 20000; ++i) {
      const gen::GenPacket p = m.next();
      const size_t n = b.build(p, fast);
      ASSERT_EQ(n, b.build_from_scratch(p, slow)) << "frame " << i;
      ASSERT_TRUE(std::equal(fast.begin(), fast.begin() + static_cast<long>(n), slow.begin())) << "frame " << i;
      msn_nonzero += p.msn != 0 && p.reverse;
      wrapped += !p.reverse && p.psn < 0x100;
    }
    EXPECT_GT(msn_nonzero, 100);
    EXPECT_GT(wrapped, 100);
  }
}

// Frames written over what a buffer held before (HeldFrames: only the bytes that differ from the frame of
// the same or a kindred template there) equal frames built from scratch: buffers picked at random, so a
// buffer holds a frame of the same template, of another QP's, of another shape or length, or nothing known.
TEST(GenFrames, FramesWrittenOverHeldFramesEqualFramesBuiltFromScratch) {
  gen::GenConfig c = every_kind_of_frame(11);
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  constexpr size_t kRoom = 4096 + 256, kBuffers = 6;
  std::vector<uint8_t> bufs(kRoom * kBuffers), slow(kRoom);
  gen::HeldFrames held;
  std::mt19937 pick(3);
  for (int i = 0; i < 30000; ++i) {
    const gen::GenPacket p = m.next();
    uint8_t* buf = bufs.data() + (pick() % kBuffers) * kRoom;
    const size_t n = b.build(p, std::span<uint8_t>(buf, kRoom), held.of(buf));
    ASSERT_EQ(n, b.build_from_scratch(p, slow)) << "frame " << i;
    ASSERT_TRUE(std::equal(buf, buf + n, slow.begin())) << "frame " << i;
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
