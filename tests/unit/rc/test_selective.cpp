// Selective loss recovery (LossRecovery::selective, between rfab engines): a lost request packet costs one
// resend of that packet, not a resend of everything after it; the connection survives loss that go-back-N
// turns into retry exhaustion. Each case is scripted exactly through the harness's wire.
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {


ConnectOpts selective(EntropyPolicy e = {}) {
  ConnectOpts o;
  o.loss_recovery = LossRecovery::selective;
  o.entropy = e;
  return o;
}

QpTuning tuning(uint16_t window, uint16_t loss_after = 0) {
  QpTuning t;
  t.reorder_window = window;
  t.loss_after = loss_after;
  return t;
}

// Posts `n` WRITEs of `len` bytes (A -> B), runs until all complete, and checks that every one succeeded
// and that B holds the bytes.
void write_all(Pair& p, size_t n, uint32_t len, Nanos limit = 60'000'000'000ull) {
  std::vector<uint8_t> data = pattern(n * len, 9);
  std::memcpy(p.a.buf(), data.data(), data.size());
  std::vector<Sge> sges(n);
  std::vector<WorkCompletion> got;
  size_t posted = 0;
  p.run(
      [&] {
        while (posted < n) {
          sges[posted] = sge(p.a, posted * len, len);
          if (!p.a.qp->post_send(write_wr(p, sges[posted], posted * len, posted)).ok()) break;
          ++posted;
        }
        auto more = p.a.poll(p.a.scq);
        got.insert(got.end(), more.begin(), more.end());
        return got.size() >= n;
      },
      limit);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), data.size())) << "bytes differ at the receiver";
  EXPECT_EQ(got.size(), n) << "not every WRITE completed";
  for (const WorkCompletion& w : got) EXPECT_EQ(w.status, WcStatus::success);
}


TEST(Selective, OneLostPacketCostsOneResend) {
  Pair p(1 << 20, selective(), {}, tuning(64, 3));
  p.fate = drop_a({p.opts.psn_a + 3});
  write_all(p, 1, 40 * 1024);  // 40 packets
  EXPECT_EQ(p.a.qp->stats().retransmits, 1u);
  EXPECT_EQ(p.a.qp->stats().selective_resends, 1u);
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 1u);
  EXPECT_EQ(p.a.qp->stats().timeouts, 0u);
  EXPECT_EQ(p.b.qp->stats().duplicates, 0u);
}

TEST(Selective, GoBackNResendsEverythingAfterTheSameLoss) {
  // The reference: the same loss under IBTA recovery resends the tail of the message.
  ConnectOpts o;
  Pair p(1 << 20, o);
  p.fate = drop_a({p.opts.psn_a + 3});
  write_all(p, 1, 40 * 1024);
  EXPECT_EQ(p.a.qp->stats().retransmits, 37u);
  EXPECT_EQ(p.a.qp->stats().selective_resends, 0u);
}

TEST(Selective, SeveralHolesAreResentOneEach) {
  Pair p(1 << 20, selective(), {}, tuning(64, 3));
  const uint32_t b = p.opts.psn_a;
  p.fate = drop_a({b + 2, b + 9, b + 10, b + 30});
  write_all(p, 4, 16 * 1024);  // 64 packets in four messages
  EXPECT_EQ(p.a.qp->stats().retransmits, 4u);
  EXPECT_EQ(p.b.qp->stats().duplicates, 0u);
}

TEST(Selective, ALostResendIsRecoveredByTheTimeoutWithBackOff) {
  Pair p(1 << 20, selective(), {}, tuning(64, 3));
  p.fate = drop_a({p.opts.psn_a + 5}, 2);  // the first transmission and the NAK-triggered resend
  write_all(p, 1, 20 * 1024);
  EXPECT_EQ(p.a.qp->stats().timeouts, 1u);
  EXPECT_EQ(p.a.qp->stats().retransmits, 2u);
}

TEST(Selective, LostTailIsRecoveredByOneTimeoutAndAPartialAck) {
  Pair p(1 << 20, selective(), {}, tuning(64, 3));
  p.fate = drop_a({p.opts.psn_a + 9});  // the last packet: nothing overtakes it, and nothing was ACKed
  write_all(p, 1, 10 * 1024);
  // The timeout resends the oldest unacknowledged packet (a duplicate, re-ACKed up to the hole); that
  // partial ACK names the lost tail, resent at once: two packets and one timeout, not the whole message.
  EXPECT_EQ(p.a.qp->stats().timeouts, 1u);
  EXPECT_EQ(p.a.qp->stats().retransmits, 2u);
  EXPECT_EQ(p.b.qp->stats().duplicates, 1u);
}

TEST(Selective, RandomLossWithSprayingCostsAboutOneResendPerDrop) {
  EntropyPolicy e;
  e.kind = EntropyPolicy::Kind::spray;
  e.paths = 4;
  Pair p(8 << 20, selective(e), {}, tuning(256));
  std::mt19937 rng(7);
  uint64_t drops = 0;
  p.fate = [&](const WirePacket& w) {
    Fate f;
    if (w.from != 0) return f;
    f.delay = (w.src_port % 4) * 3000;  // four paths of different delay: heavy reordering
    if (rng() % 100 == 0) {             // 1% loss, resends included
      f.drop = true;
      ++drops;
    }
    return f;
  };
  write_all(p, 64, 64 * 1024);  // 4 MiB, 4096 packets
  ASSERT_GT(drops, 20u);
  EXPECT_LE(p.a.qp->stats().retransmits, 2 * drops);
  EXPECT_EQ(p.a.qp->stats().selective_resends, p.a.qp->stats().retransmits);
}

TEST(Selective, ABurstOfLossCompletes) {
  Pair p(1 << 20, selective(), {}, tuning(128, 3));
  std::set<uint32_t> burst;
  for (uint32_t i = 20; i < 45; ++i) burst.insert(p.opts.psn_a + i);
  p.fate = drop_a(burst);
  write_all(p, 1, 100 * 1024);
  EXPECT_EQ(p.b.qp->stats().duplicates, 0u);
}

TEST(Selective, ReadsStillRecoverLostResponses) {
  Pair p(1 << 20, selective(), {}, tuning(64, 3));
  const auto data = pattern(16 * 1024, 3);
  std::memcpy(p.b.buf(), data.data(), data.size());
  auto dropped = std::make_shared<bool>(false);
  p.fate = [=](const WirePacket& w) {  // B's 5th READ response packet, once
    if (w.from == 1 && w.index == 4 && !*dropped) return *dropped = true, Fate{true};
    return Fate{};
  };
  const Sge s = sge(p.a, 0, 16 * 1024);
  ASSERT_TRUE(p.a.qp->post_send(read_wr(p, s, 0)).ok());
  const auto got = drain(p, p.a, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.a.buf(), data.data(), data.size()));
}

}  // namespace
}  // namespace rfab::rc::test
