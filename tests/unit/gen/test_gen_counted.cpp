// The user-space twin of the eBPF collector's counting (telemetry FrameCounter, what `rfab collect
// --dpdk-args` runs) fed the generator's frames in order: per flow it must count exactly what the
// generator's truth says was sent, opcode classes, CE marks, CNPs, NAKs and every skipped PSN as a hole.
// The system tests (tests/system/gen) run the same comparison through the eBPF collector on a veth.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "rfab/gen/frame_builder.hpp"
#include "rfab/gen/truth.hpp"
#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/frame_counter.hpp"

namespace {
namespace gen = rfab::gen;
namespace tm = rfab::telemetry;

void run_and_compare(const gen::GenConfig& c, int packets, uint64_t hole_timeout_ns) {
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  gen::Truth truth(c);
  tm::FrameCounterConfig fc;
  fc.hole_timeout_ns = hole_timeout_ns;
  tm::FrameCounter counter(fc);
  std::vector<uint8_t> buf(4096 + 256);
  uint64_t now = 1'000'000'000;
  for (int i = 0; i < packets; ++i) {
    const gen::GenPacket p = m.next();
    const size_t len = b.build(p, buf);
    truth.sent(p, len);
    counter.count(std::span<const uint8_t>(buf.data(), len), now += 1000);
  }
  const tm::CollectorSnapshot s = counter.snapshot();
  const auto flows = truth.flows();
  ASSERT_EQ(s.flows.size(), flows.size());
  uint64_t skipped = 0;
  for (const auto& f : flows) {
    const tm::FlowRecord* r = nullptr;
    for (const auto& x : s.flows)
      if (x.key.qp == f.qp && tm::format_addr(x.key.src, x.key.family) == f.src) r = &x;
    ASSERT_NE(r, nullptr) << "no flow for QP " << f.qp;
    EXPECT_EQ(r->stats.packets, f.packets) << f.qp;
    EXPECT_EQ(r->stats.bytes, f.bytes) << f.qp;
    for (size_t cls = 0; cls < gen::kClassCount; ++cls)
      EXPECT_EQ(r->stats.op_class[cls], f.classes[cls]) << f.qp << " " << gen::class_name(cls);
    EXPECT_EQ(r->stats.ecn_ce, f.ecn_ce) << f.qp;
    EXPECT_EQ(r->stats.cnps, f.cnps) << f.qp;
    EXPECT_EQ(r->stats.naks[RFAB_NAK_PSN_SEQUENCE], f.naks) << f.qp;
    EXPECT_EQ(r->stats.psn_gaps, f.psn_gaps) << f.qp;
    EXPECT_EQ(r->stats.psn_holes, f.psn_skipped) << f.qp;
    EXPECT_EQ(r->stats.lost + r->outstanding, f.psn_skipped) << f.qp;
    EXPECT_EQ(r->stats.psn_backwards, 0u) << f.qp;
    ASSERT_EQ(r->entropies.size(), 1u);
    EXPECT_EQ(r->entropies[0].port, f.sport);
    skipped += f.psn_skipped;
  }
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_packets, truth.packets());
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_bytes, truth.bytes());
  EXPECT_GT(skipped, 0u);
}

TEST(GenCounted, FrameCounterCountsExactlyWhatWasSent) {
  gen::GenConfig c;
  c.mix = gen::parse_mix("write=50,send=30,read=20");
  c.qps = 5;
  c.msg_size = 3000;
  c.gap_rate = 0.03;
  c.ecn_ce_rate = 0.1;
  c.cnp_rate = 0.05;
  c.nak_rate = 0.05;
  run_and_compare(c, 50000, RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT);
  run_and_compare(c, 50000, 0);  // holes lost only at the window's end
}

TEST(GenCounted, PsnWrapAndLargeBurstsOfLoss) {
  gen::GenConfig c;
  c.mix = gen::parse_mix("write=1,send=1");
  c.msg_size = 8192;
  c.mtu = 256;
  c.start_psn = 0xFFFF00;  // wraps past 2^24 within the run
  c.gap_rate = 0.4;
  run_and_compare(c, 20000, RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT);
}

}  // namespace
