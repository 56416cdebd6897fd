// FrameCounter on the frames the eBPF programs' parser distinguishes: every opcode of fabric/wire's table,
// untagged, behind one VLAN tag and over IPv6 (rfab synth's sample frames), is one RoCE packet of its
// opcode's class; a frame cut inside the BTH, or an ACK without its AETH, is malformed; UDP to another
// port, an IPv4 fragment and ARP are not RoCE; NAK kinds and a lost-PSN event come out as the programs
// emit them.
#include <gtest/gtest.h>

#include <vector>

#include "rfab/telemetry/frame_counter.hpp"
#include "rfab/wire/sample.hpp"

namespace {
namespace tm = rfab::telemetry;
namespace w = rfab::wire;

TEST(FrameCounterFrames, EveryOpcodeUntaggedTaggedAndIpv6) {
  for (int variant = 0; variant < 3; ++variant) {
    w::SampleOptions o;
    o.vlan = variant == 1 ? 42 : -1;
    o.ipv6 = variant == 2;
    const auto frames = w::sample_every_opcode(o);
    tm::FrameCounter c({});
    uint64_t bytes = 0;
    for (const auto& f : frames) {
      c.count(f.bytes, 1000);
      bytes += f.bytes.size();
    }
    const auto s = c.snapshot();
    EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_packets, frames.size()) << variant;
    EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_bytes, bytes) << variant;
    EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].malformed + s.totals[RFAB_DIR_INGRESS].not_roce, 0u) << variant;
    uint64_t per_class[RFAB_OPC_COUNT] = {};
    for (const auto& f : frames) ++per_class[tm::opcode_class(f.fields.bth.opcode)];
    uint64_t counted[RFAB_OPC_COUNT] = {};
    for (const auto& fl : s.flows) {
      EXPECT_EQ(fl.key.family, variant == 2 ? 6 : 4);
      for (unsigned k = 0; k < RFAB_OPC_COUNT; ++k) counted[k] += fl.stats.op_class[k];
    }
    for (unsigned k = 0; k < RFAB_OPC_COUNT; ++k) EXPECT_EQ(counted[k], per_class[k]) << variant << " class " << k;
  }
}

TEST(FrameCounterFrames, MalformedAndNotRoce) {
  const auto frames = w::sample_every_opcode({});
  const w::SampleFrame* ack = nullptr;
  for (const auto& f : frames)
    if (f.fields.bth.opcode == w::op::RC_ACK) ack = &f;
  ASSERT_NE(ack, nullptr);
  tm::FrameCounter c({});
  const size_t bth = 14 + 20 + 8;
  c.count(std::span<const uint8_t>(ack->bytes.data(), bth + 11), 1);  // cut inside the BTH
  c.count(std::span<const uint8_t>(ack->bytes.data(), bth + 12), 1);  // an ACK without its AETH
  std::vector<uint8_t> other_port = ack->bytes;
  other_port[14 + 20 + 3] ^= 1;  // UDP destination 4790
  c.count(other_port, 1);
  std::vector<uint8_t> fragment = ack->bytes;
  fragment[14 + 6] |= 0x20;  // more fragments
  c.count(fragment, 1);
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  c.count(arp, 1);
  const auto t = c.snapshot().totals[RFAB_DIR_INGRESS];
  EXPECT_EQ(t.frames, 5u);
  EXPECT_EQ(t.malformed, 2u);
  EXPECT_EQ(t.not_roce, 3u);
  EXPECT_EQ(t.roce_packets, 0u);
}

TEST(FrameCounterFrames, NakKindsAndLostEvents) {
  const auto frames = w::sample_every_opcode({});
  const w::SampleFrame *ack = nullptr, *send = nullptr;
  for (const auto& f : frames) {
    if (f.fields.bth.opcode == w::op::RC_ACK) ack = &f;
    if (f.fields.bth.opcode == w::op::RC_SEND_ONLY) send = &f;
  }
  ASSERT_TRUE(ack && send);
  tm::FrameCounterConfig cfg;
  cfg.hole_timeout_ns = 0;  // holes are lost only when they leave the window
  tm::FrameCounter c(cfg);
  const size_t aeth = 14 + 20 + 8 + 12, psn = 14 + 20 + 8 + 8;
  for (uint8_t syndrome : {uint8_t{0x60}, uint8_t{0x62}, uint8_t{0x20}, uint8_t{0x00}}) {  // PSN seq, access, RNR, ACK
    std::vector<uint8_t> f = ack->bytes;
    f[aeth] = syndrome;
    c.count(f, 1);  // the ICRC is not checked by a collector, as in the programs
  }
  // A request stream that jumps from 10 to 310: 299 holes; the 44 below the new window are lost at once,
  // and 311 pushes the oldest hole left (55) out of the 256-PSN window.
  for (uint32_t p : {10u, 310u, 311u}) {
    std::vector<uint8_t> f = send->bytes;
    f[psn + 1] = static_cast<uint8_t>(p >> 16);
    f[psn + 2] = static_cast<uint8_t>(p >> 8);
    f[psn + 3] = static_cast<uint8_t>(p);
    c.count(f, 2);
  }
  const auto s = c.snapshot();
  const auto& t = s.totals[RFAB_DIR_INGRESS];
  EXPECT_EQ(t.naks, 3u);
  EXPECT_EQ(t.psn_holes, 299u);
  EXPECT_EQ(t.lost, 45u);
  uint64_t naks[RFAB_NAK_COUNT] = {};
  for (const auto& fl : s.flows)
    for (unsigned k = 0; k < RFAB_NAK_COUNT; ++k) naks[k] += fl.stats.naks[k];
  EXPECT_EQ(naks[RFAB_NAK_PSN_SEQUENCE], 1u);
  EXPECT_EQ(naks[RFAB_NAK_REMOTE_ACCESS], 1u);
  EXPECT_EQ(naks[RFAB_NAK_RNR], 1u);
  const auto ev = c.take_events();
  ASSERT_EQ(ev.size(), 5u);  // three NAKs, two PSN-lost events
  EXPECT_EQ(ev[3].raw.type, static_cast<uint32_t>(RFAB_EV_PSN_LOST));
  EXPECT_EQ(ev[3].raw.value, 44u);
  EXPECT_EQ(ev[3].raw.psn, 310u);
  EXPECT_EQ(ev[3].raw.expected_psn, 11u);
  EXPECT_EQ(ev[4].raw.value, 1u);
  EXPECT_EQ(ev[4].raw.expected_psn, 311u);
  EXPECT_TRUE(c.take_events().empty());
}

}  // namespace
