// The generator's packet sequence: the opcodes a message of a given size and MTU is made of, READ
// responses and PSN accounting, and where packets may be dropped (never where a collector could not see
// the hole).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "rfab/gen/traffic_model.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/wire/opcode.hpp"

namespace {
namespace gen = rfab::gen;
namespace op = rfab::wire::op;

std::vector<gen::GenPacket> take(const gen::GenConfig& c, size_t n) {
  gen::TrafficModel m(c);
  std::vector<gen::GenPacket> out;
  for (size_t i = 0; i < n; ++i) out.push_back(m.next());
  return out;
}

gen::GenConfig one(uint32_t size, uint32_t mtu, const char* mix) {
  gen::GenConfig c;
  c.msg_size = size;
  c.mtu = mtu;
  c.mix = gen::parse_mix(mix);
  return c;
}

TEST(GenTrafficModel, WriteOfTwoAndAHalfMtusIsFirstMiddleLast) {
  const auto p = take(one(2500, 1024, "write=1"), 6);
  const uint8_t want[] = {op::RC_WRITE_FIRST, op::RC_WRITE_MIDDLE, op::RC_WRITE_LAST,
                          op::RC_WRITE_FIRST, op::RC_WRITE_MIDDLE, op::RC_WRITE_LAST};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(p[i].opcode, want[i]) << i;
    EXPECT_EQ(p[i].psn, i) << i;
    EXPECT_FALSE(p[i].reverse);
  }
  EXPECT_EQ(p[0].payload_len, 1024u);
  EXPECT_EQ(p[0].dma_len, 2500u);  // RETH on FIRST only
  EXPECT_EQ(p[1].dma_len, 0u);
  EXPECT_EQ(p[2].payload_len, 452u);
  EXPECT_TRUE(p[2].ack_req);
  EXPECT_FALSE(p[1].ack_req);
}

TEST(GenTrafficModel, SmallAndZeroLengthMessagesAreOnly) {
  for (uint32_t size : {0u, 1u, 1024u}) {
    const auto s = take(one(size, 1024, "send=1"), 2);
    EXPECT_EQ(s[0].opcode, op::RC_SEND_ONLY);
    EXPECT_EQ(s[0].payload_len, size);
    const auto w = take(one(size, 1024, "write=1"), 1);
    EXPECT_EQ(w[0].opcode, op::RC_WRITE_ONLY);
    EXPECT_EQ(w[0].dma_len, size);
  }
}

TEST(GenTrafficModel, ReadRequestIsAnsweredAndTakesOnePsnPerResponse) {
  const auto p = take(one(3000, 1024, "read=1"), 8);
  EXPECT_EQ(p[0].opcode, op::RC_READ_REQUEST);
  EXPECT_EQ(p[0].dma_len, 3000u);
  const uint8_t resp[] = {op::RC_READ_RESPONSE_FIRST, op::RC_READ_RESPONSE_MIDDLE, op::RC_READ_RESPONSE_LAST};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p[1 + i].opcode, resp[i]);
    EXPECT_TRUE(p[1 + i].reverse);
    EXPECT_EQ(p[1 + i].psn, static_cast<uint32_t>(i));
  }
  EXPECT_EQ(p[3].payload_len, 3000u - 2048u);
  EXPECT_EQ(p[4].opcode, op::RC_READ_REQUEST);
  EXPECT_EQ(p[4].psn, 3u);  // the next request follows the three response PSNs
}

TEST(GenTrafficModel, DropsSkipPsnsOnlyWhereACollectorCanSeeTheHole) {
  gen::GenConfig c = one(2048, 1024, "write=5,send=3,read=2");
  c.qps = 3;
  c.gap_rate = 0.3;
  c.seed = 7;
  gen::TrafficModel m(c);
  std::map<uint32_t, uint32_t> expected;  // per QP: the next request PSN a collector expects
  std::map<uint32_t, bool> after_read;
  uint64_t skipped = 0;
  for (int i = 0; i < 20000; ++i) {
    const gen::GenPacket p = m.next();
    if (p.reverse) {
      EXPECT_EQ(p.skipped_before, 0u);
      continue;
    }
    const bool first = !expected.count(p.qp);
    if (first) EXPECT_EQ(p.skipped_before, 0u) << "a flow's first request never follows a drop";
    else if (after_read[p.qp]) EXPECT_EQ(p.skipped_before, 0u) << "the request after a READ is never dropped";
    else EXPECT_EQ(p.psn, (expected[p.qp] + p.skipped_before) & 0xFFFFFF);
    skipped += p.skipped_before;
    const bool read = p.opcode == op::RC_READ_REQUEST;
    expected[p.qp] = (p.psn + (read ? 2 : 1)) & 0xFFFFFF;
    after_read[p.qp] = read;
  }
  EXPECT_GT(skipped, 1000u);
}

TEST(GenTrafficModel, SameSeedSameTraffic) {
  gen::GenConfig c = one(3000, 1024, "write=1,send=1,read=1");
  c.qps = 4;
  c.gap_rate = c.ecn_ce_rate = c.cnp_rate = c.nak_rate = 0.1;
  const auto a = take(c, 500), b = take(c, 500);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].opcode, b[i].opcode);
    EXPECT_EQ(a[i].psn, b[i].psn);
    EXPECT_EQ(a[i].ce, b[i].ce);
  }
}

// A stream of one operation without faults is kept as a cycle of packets whose PSNs are rewritten; it gives
// the packets the message-by-message path gives. That path is forced by a gap rate above 0 that never
// drops anything in practice (a draw below 1e-300), so the two have to agree packet for packet.
TEST(GenTrafficModel, TheCycleOfAFaultlessStreamGivesTheSamePackets) {
  struct Case { uint32_t size, mtu, qps; const char* mix; uint32_t start_psn; };
  for (const Case& k : {Case{64, 1024, 4, "write=1", 0}, Case{0, 256, 3, "send=1", 0xFFFFF0},
                        Case{3000, 1024, 5, "write=1", 0xFFFFFE}, Case{8192, 256, 3, "send=1", 7},
                        Case{4096, 256, 70, "write=1", 0}}) {  // 1120 packets a round: no cycle
    gen::GenConfig c = one(k.size, k.mtu, k.mix);
    c.qps = k.qps;
    c.start_psn = k.start_psn;
    gen::GenConfig forced = c;
    forced.gap_rate = 1e-300;
    const auto a = take(c, 5000), b = take(forced, 5000);
    for (size_t i = 0; i < a.size(); ++i) {
      SCOPED_TRACE("size " + std::to_string(k.size) + " qps " + std::to_string(k.qps) + " packet " + std::to_string(i));
      ASSERT_EQ(a[i].qp, b[i].qp);
      ASSERT_EQ(a[i].reverse, b[i].reverse);
      ASSERT_EQ(a[i].opcode, b[i].opcode);
      ASSERT_EQ(a[i].psn, b[i].psn);
      ASSERT_EQ(a[i].payload_len, b[i].payload_len);
      ASSERT_EQ(a[i].va, b[i].va);
      ASSERT_EQ(a[i].rkey, b[i].rkey);
      ASSERT_EQ(a[i].dma_len, b[i].dma_len);
      ASSERT_EQ(a[i].syndrome, b[i].syndrome);
      ASSERT_EQ(a[i].msn, b[i].msn);
      ASSERT_EQ(a[i].ack_req, b[i].ack_req);
      ASSERT_EQ(a[i].ce, b[i].ce);
      ASSERT_EQ(a[i].skipped_before, b[i].skipped_before);
    }
  }
}

TEST(GenMix, BadMixesNameTheProblem) {
  EXPECT_THROW(gen::parse_mix(""), gen::GenError);
  EXPECT_THROW(gen::parse_mix("write"), gen::GenError);
  EXPECT_THROW(gen::parse_mix("write=x"), gen::GenError);
  EXPECT_THROW(gen::parse_mix("write=-1"), gen::GenError);
  EXPECT_THROW(gen::parse_mix("atomic=1"), gen::GenError);
  EXPECT_THROW(gen::parse_mix("write=1,write=2"), gen::GenError);
  EXPECT_THROW(gen::parse_mix("write=0,read=0"), gen::GenError);
  try {
    gen::parse_mix("write=70,fetch=30");
    FAIL();
  } catch (const gen::GenError& e) {
    EXPECT_NE(std::string(e.what()).find("fetch"), std::string::npos);
  }
  const auto m = gen::parse_mix("write=70,send=20,read=10");
  EXPECT_EQ(m.write, 70u);
  EXPECT_EQ(m.send, 20u);
  EXPECT_EQ(m.read, 10u);
}

}  // namespace
