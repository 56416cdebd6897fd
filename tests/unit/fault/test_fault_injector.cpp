// The seeded fault injector: configured rates are met, the same seed replays the same faults, order is
// kept unless reordering is asked for, nothing is lost except by drop, corruption is caught by the ICRC.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "rfab/fault/fault_injector.hpp"
#include "rfab/wire/packet.hpp"
#include "rfab/wire/sample.hpp"

namespace rfab::fault {
namespace {

std::vector<uint8_t> body(uint64_t i, size_t len = 64) {
  std::vector<uint8_t> b(len);
  for (size_t k = 0; k < len; ++k) b[k] = static_cast<uint8_t>(i * 131 + k * 7);
  return b;
}

// Pushes n packets 1 us apart (meta = index) and drains everything.
std::vector<Packet> run(FaultInjector& f, uint64_t n) {
  std::vector<Packet> out;
  for (uint64_t i = 0; i < n; ++i) {
    f.push(i * 1_us, body(i), i);
    f.pop_ready(i * 1_us, out);
  }
  for (Nanos t = f.next_ready(); t != kNever; t = f.next_ready()) f.pop_ready(t, out);
  return out;
}

// 5-sigma binomial bound on an observed fraction.
void expect_rate(uint64_t hits, uint64_t n, double p, const char* what) {
  const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(n));
  EXPECT_NEAR(static_cast<double>(hits) / static_cast<double>(n), p, 5 * sigma) << what;
}

TEST(FaultInjector, NoFaultsIsATransparentFifo) {
  FaultInjector f(parse_fault("none"));
  std::vector<Packet> out;
  f.push(0, body(1), 1);
  f.push(0, body(2), 2);
  EXPECT_EQ(f.next_ready(), 0u);
  EXPECT_EQ(f.pop_ready(0, out), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].meta, 1u);
  EXPECT_EQ(out[0].bytes, body(1));
  EXPECT_EQ(out[1].meta, 2u);
  EXPECT_EQ(f.next_ready(), kNever);
  EXPECT_EQ(f.queued(), 0u);
}

TEST(FaultInjector, FixedDelay) {
  FaultInjector f(parse_fault("delay=10us"));
  std::vector<Packet> out;
  f.push(5_us, body(0), 0);
  EXPECT_EQ(f.next_ready(), 15_us);
  EXPECT_EQ(f.pop_ready(15_us - 1, out), 0u);
  EXPECT_EQ(f.pop_ready(15_us, out), 1u);
}

TEST(FaultInjector, JitterDelaysWithinBoundsAndKeepsOrder) {
  FaultInjector f(parse_fault("delay=10us,jitter=5us,seed=3"));
  constexpr uint64_t kN = 10000;
  for (uint64_t i = 0; i < kN; ++i) f.push(i * 100, body(i), i);  // 100 ns apart: jitter spans ~50 packets
  // Drain one due time at a time, recording when each packet went out.
  std::vector<std::pair<uint64_t, Nanos>> when;  // meta, delivered at
  Nanos prev = 0;
  for (Nanos t = f.next_ready(); t != kNever; t = f.next_ready()) {
    ASSERT_GE(t, prev);
    prev = t;
    std::vector<Packet> batch;
    f.pop_ready(t, batch);
    for (const Packet& p : batch) when.emplace_back(p.meta, t);
  }
  ASSERT_EQ(when.size(), kN);
  Nanos max_extra = 0;
  for (size_t k = 0; k < when.size(); ++k) {
    ASSERT_EQ(when[k].first, k) << "jitter must not reorder";
    const Nanos pushed = k * 100;
    ASSERT_GE(when[k].second, pushed + 10_us);
    max_extra = std::max(max_extra, when[k].second - pushed - 10_us);
  }
  EXPECT_GT(max_extra, 4_us);  // the jitter range is used ...
  EXPECT_LE(max_extra, 5_us);  // ... and never exceeded: waiting for an earlier packet stays within it
}

TEST(FaultInjector, RatesConvergeOver100kPackets) {
  FaultInjector f(parse_fault("drop=0.01,dup=0.001,reorder=0.05,corrupt=0.001,delay=2us,seed=11"));
  const auto out = run(f, 100000);
  const auto& s = f.stats();
  EXPECT_EQ(s.pushed, 100000u);
  expect_rate(s.dropped, s.pushed, 0.01, "drop");
  const uint64_t kept = s.pushed - s.dropped;  // later decisions only apply to packets not dropped
  expect_rate(s.duplicated, kept, 0.001, "dup");
  expect_rate(s.reordered, kept, 0.05, "reorder");
  expect_rate(s.corrupted, kept, 0.001, "corrupt");
  EXPECT_EQ(out.size(), s.pushed - s.dropped + s.duplicated);
  EXPECT_EQ(s.delivered, out.size());

  // Every corrupted packet differs from what was pushed in exactly one bit.
  uint64_t one_bit = 0;
  for (const Packet& p : out) {
    const auto orig = body(p.meta);
    int bits = 0;
    for (size_t k = 0; k < orig.size(); ++k) bits += std::popcount(static_cast<unsigned>(orig[k] ^ p.bytes[k]));
    ASSERT_LE(bits, 1);
    one_bit += static_cast<uint64_t>(bits);
  }
  EXPECT_EQ(one_bit, s.corrupted);
}

TEST(FaultInjector, SameSeedSameFaultsOtherSeedOtherFaults) {
  const char* spec = "drop=0.05,dup=0.05,reorder=0.1,corrupt=0.05,delay=1us,jitter=3us,seed=7";
  FaultInjector a(parse_fault(spec));
  FaultInjector b(parse_fault(spec));
  FaultConfig other = parse_fault(spec);
  other.seed = 8;
  FaultInjector c(other);
  const auto oa = run(a, 20000);
  const auto ob = run(b, 20000);
  const auto oc = run(c, 20000);
  ASSERT_EQ(oa.size(), ob.size());
  for (size_t k = 0; k < oa.size(); ++k) {
    ASSERT_EQ(oa[k].meta, ob[k].meta) << k;
    ASSERT_EQ(oa[k].bytes, ob[k].bytes) << k;
  }
  bool differs = oa.size() != oc.size();
  for (size_t k = 0; !differs && k < oa.size(); ++k) differs = oa[k].meta != oc[k].meta || oa[k].bytes != oc[k].bytes;
  EXPECT_TRUE(differs);
}

TEST(FaultInjector, NothingLostExceptByDrop) {
  FaultInjector f(parse_fault("drop=0.02,dup=0.02,reorder=0.2,depth=5,hold=30us,jitter=2us,seed=5"));
  const auto out = run(f, 50000);
  std::map<uint64_t, int> seen;
  for (const Packet& p : out) ++seen[p.meta];
  const auto& s = f.stats();
  EXPECT_EQ(f.queued(), 0u);
  EXPECT_EQ(seen.size(), s.pushed - s.dropped);  // every packet not dropped arrives ...
  uint64_t extra = 0;
  for (const auto& [meta, n] : seen) {
    ASSERT_LT(meta, 50000u);
    ASSERT_LE(n, 2);  // ... once, or twice when duplicated
    extra += static_cast<uint64_t>(n - 1);
  }
  EXPECT_EQ(extra, s.duplicated);
}

TEST(FaultInjector, OrderKeptWithoutReorderAndBoundedWithIt) {
  {
    FaultInjector f(parse_fault("drop=0.1,dup=0.1,jitter=10us,seed=2"));
    const auto out = run(f, 20000);
    for (size_t k = 1; k < out.size(); ++k) ASSERT_LE(out[k - 1].meta, out[k].meta);
  }
  // With reorder (and a long hold so only overtaking releases packets): a held packet is overtaken by at
  // most `depth` later packets, so each packet arrives after at most 3 packets pushed after it.
  FaultInjector f(parse_fault("reorder=0.1,depth=3,hold=1s,seed=9"));
  const auto out = run(f, 20000);
  ASSERT_EQ(out.size(), 20000u);
  size_t max_overtaken = 0;
  uint64_t out_of_order = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    size_t overtaken = 0;  // later-pushed packets delivered before this one
    for (size_t j = 0; j < k; ++j) overtaken += out[j].meta > out[k].meta ? 1 : 0;
    max_overtaken = std::max(max_overtaken, overtaken);
    out_of_order += overtaken > 0 ? 1 : 0;
  }
  EXPECT_LE(max_overtaken, 3u);
  EXPECT_GT(out_of_order, 1000u);  // ~10% of packets were held
}

TEST(FaultInjector, HeldPacketIsReleasedByItsDeadline) {
  FaultInjector f(parse_fault("reorder=1,depth=4,hold=50us,delay=1us"));
  std::vector<Packet> out;
  f.push(0, body(0), 0);  // held; nothing comes to overtake it
  EXPECT_EQ(f.stats().reordered, 1u);
  EXPECT_EQ(f.next_ready(), 51_us);
  EXPECT_EQ(f.pop_ready(51_us - 1, out), 0u);
  EXPECT_EQ(f.pop_ready(51_us, out), 1u);
  EXPECT_EQ(f.queued(), 0u);
}

TEST(FaultInjector, CorruptedRoceFramesFailTheIcrc) {
  // Every sample frame, corrupted in a bit the ICRC covers (from BTH byte 5 on), many times over: the
  // receiver must reject each copy, either as malformed or on the ICRC.
  FaultInjector f(parse_fault("corrupt=1,seed=13"));
  uint64_t checked = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    wire::SampleOptions opt;
    opt.seed = seed;
    opt.ipv6 = seed % 2 == 0;
    for (const wire::SampleFrame& s : wire::sample_every_opcode(opt)) {
      auto clean = wire::decode_frame(s.bytes);
      ASSERT_TRUE(clean.ok());
      ASSERT_TRUE(wire::frame_icrc_ok(*clean));
      const size_t from = clean->roce_offset + kAfterBthMaskedByte;
      f.push(0, s.bytes, 0, from);
      std::vector<Packet> out;
      ASSERT_EQ(f.pop_ready(0, out), 1u);
      ASSERT_NE(out[0].bytes, s.bytes);
      auto bad = wire::decode_frame(out[0].bytes);
      EXPECT_TRUE(!bad.ok() || !wire::frame_icrc_ok(*bad)) << "opcode sample " << checked;
      ++checked;
    }
  }
  EXPECT_EQ(f.stats().corrupted, checked);
  EXPECT_GT(checked, 100u);
}

TEST(FaultInjector, CorruptionSkipsBytesBeforeCorruptFrom) {
  FaultInjector f(parse_fault("corrupt=1,seed=1"));
  std::vector<Packet> out;
  for (uint64_t i = 0; i < 2000; ++i) f.push(0, std::vector<uint8_t>(16, 0), i, 12);
  f.pop_ready(0, out);
  for (const Packet& p : out) {
    for (size_t k = 0; k < 12; ++k) ASSERT_EQ(p.bytes[k], 0) << "byte " << k;
  }
  // A packet no longer than corrupt_from cannot be corrupted: it passes untouched and is not counted.
  FaultInjector g(parse_fault("corrupt=1"));
  g.push(0, std::vector<uint8_t>(4, 0), 0, 4);
  EXPECT_EQ(g.stats().corrupted, 0u);
}

}  // namespace
}  // namespace rfab::fault
