// DCQCN reaction point against hand-computed traces. Unless noted: the paper preset on a 100 Gb/s line
// (g = 1/256, K = T = 55 us, B = 10 MB, F = 5, R_AI = 40 Mb/s, R_HAI = 200 Mb/s, reduce period 50 us).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "rfab/congestion/reaction_point.hpp"

namespace rfab::cc {
namespace {

constexpr double kLine = 100e9;
using Phase = DcqcnReactionPoint::Phase;

DcqcnParams timer_only() {
  DcqcnParams p = dcqcn_paper();
  p.byte_counter = 0;  // timer-driven increases only
  return p;
}

TEST(ReactionPoint, IdleFlowRunsAtLineRateWithoutTimers) {
  DcqcnReactionPoint rp(dcqcn_paper(), kLine);
  EXPECT_EQ(rp.rate_bps(0), kLine);
  EXPECT_EQ(rp.next_timer(), kNever);
  EXPECT_EQ(rp.phase(), Phase::line_rate);
  rp.on_send(1_us, 50'000'000);  // the byte counter only runs while recovering from a cut
  rp.on_timer(1_ms);
  EXPECT_EQ(rp.rate_bps(1_ms), kLine);
  EXPECT_EQ(rp.stats().byte_increases, 0u);
}

TEST(ReactionPoint, FirstCnpHalvesLineRateWithAlphaOne) {
  DcqcnReactionPoint rp(dcqcn_paper(), kLine);
  rp.on_cnp(0);
  // Rt = Rc = 100G; Rc = 100G * (1 - 1/2) = 50G; alpha = (1 - g) * 1 + g = 1.
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50e9);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 100e9);
  EXPECT_DOUBLE_EQ(rp.alpha(0), 1.0);
  EXPECT_EQ(rp.next_timer(), 55_us);  // the rate-increase timer starts with the cut
  EXPECT_EQ(rp.phase(), Phase::fast_recovery);
}

TEST(ReactionPoint, AlphaDecaysByOneMinusGPerFullPeriod) {
  DcqcnParams p = dcqcn_paper();
  p.rate_period = 1000_ms;  // keep increases out of the way
  DcqcnReactionPoint rp(p, kLine);
  rp.on_cnp(0);
  // alpha(k periods) = (255/256)^k: k=1 -> 0.99609375, k=10 -> 0.96161704..., k=256 -> 0.36715975...
  EXPECT_DOUBLE_EQ(rp.alpha(55_us - 1), 1.0);  // no full period yet
  EXPECT_DOUBLE_EQ(rp.alpha(55_us), 0.99609375);
  EXPECT_NEAR(rp.alpha(10 * 55_us), 0.9616170416164264, 1e-15);
  EXPECT_NEAR(rp.alpha(11 * 55_us - 1), 0.9616170416164264, 1e-15);
  EXPECT_NEAR(rp.alpha(256 * 55_us), 0.36715975489153624, 1e-14);

  // A cut after 10 quiet periods uses the decayed alpha: Rc = 50G * (1 - 0.96161704/2) = 25.959573959...G,
  // then alpha = (1-g) * 0.96161704 + g and the decay restarts from this cut.
  rp.on_cnp(10 * 55_us);
  EXPECT_NEAR(rp.current_rate_bps(), 25959573959.589344, 1e-3);
  const double a = (1 - 1.0 / 256) * 0.9616170416164264 + 1.0 / 256;
  EXPECT_NEAR(rp.alpha(10 * 55_us), a, 1e-15);
  EXPECT_NEAR(rp.alpha(11 * 55_us), a * 0.99609375, 1e-15);
}

TEST(ReactionPoint, FastRecoveryThenAdditiveIncreaseOnTimer) {
  DcqcnReactionPoint rp(timer_only(), kLine);
  rp.on_cnp(0);      // Rc = 50G, Rt = 100G
  rp.on_cnp(50_us);  // exactly one reduce period later: Rt = 50G, Rc = 25G (alpha(50us) = 1: no full K yet)
  ASSERT_DOUBLE_EQ(rp.target_rate_bps(), 50e9);
  ASSERT_DOUBLE_EQ(rp.current_rate_bps(), 25e9);
  EXPECT_EQ(rp.next_timer(), 105_us);

  // Timer events every 55 us from the cut: T = 1..5 fast recovery Rc = (Rt + Rc) / 2,
  // then T = 6, 7 additive increase Rt += 40M; Rc = (Rt + Rc) / 2.
  const double rc[] = {37.5e9, 43.75e9, 46.875e9, 48.4375e9, 49.21875e9, 49.629375e9, 49.8546875e9};
  const double rt[] = {50e9, 50e9, 50e9, 50e9, 50e9, 50.04e9, 50.08e9};
  for (int k = 0; k < 7; ++k) {
    const Nanos t = rp.next_timer();
    EXPECT_EQ(t, 50_us + static_cast<Nanos>(k + 1) * 55_us);
    rp.on_timer(t);
    EXPECT_DOUBLE_EQ(rp.current_rate_bps(), rc[k]) << "timer event " << k + 1;
    EXPECT_DOUBLE_EQ(rp.target_rate_bps(), rt[k]) << "timer event " << k + 1;
    EXPECT_EQ(rp.phase(), k < 5 ? Phase::fast_recovery : Phase::additive);
  }
  EXPECT_EQ(rp.timer_stage(), 7u);
  EXPECT_EQ(rp.stats().timer_increases, 7u);
}

TEST(ReactionPoint, ByteCounterFiresEveryBBytes) {
  DcqcnReactionPoint rp(dcqcn_paper(), kLine);  // B = 10 MB
  rp.on_send(0, 7'000'000);  // before any cut: ignored
  rp.on_cnp(1_us);            // Rc = 50G, Rt = 100G; byte counter starts from 0
  rp.on_send(2_us, 9'999'999);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50e9);
  EXPECT_EQ(rp.byte_stage(), 0u);
  rp.on_send(3_us, 1);  // 10,000,000 bytes: BC = 1, fast recovery Rc = (100 + 50) / 2 = 75G
  EXPECT_EQ(rp.byte_stage(), 1u);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 75e9);
  rp.on_send(4_us, 25'000'000);  // two more events (BC = 2, 3), 5 MB carried over: 87.5G then 93.75G
  EXPECT_EQ(rp.byte_stage(), 3u);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 93.75e9);
  rp.on_send(5_us, 4'999'999);
  EXPECT_EQ(rp.byte_stage(), 3u);
  rp.on_send(6_us, 1);
  EXPECT_EQ(rp.byte_stage(), 4u);
  EXPECT_EQ(rp.stats().byte_increases, 4u);
  EXPECT_EQ(rp.timer_stage(), 0u);  // 6 us < T
}

TEST(ReactionPoint, HyperIncreaseNeedsBothCountersPastF) {
  DcqcnParams p = dcqcn_paper();
  p.byte_counter = 1'000'000;
  DcqcnReactionPoint rp(p, kLine);
  rp.on_cnp(0);
  rp.on_cnp(50_us);  // Rt = 50G, Rc = 25G, T = BC = 0
  // 6 MB at once: BC = 1..5 fast recovery (Rc -> 49.21875G), BC = 6 additive (T = 0 <= F):
  // Rt = 50.04G, Rc = (50.04 + 49.21875) / 2 = 49.629375G.
  rp.on_send(51_us, 6'000'000);
  EXPECT_EQ(rp.byte_stage(), 6u);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 50.04e9);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 49.629375e9);
  EXPECT_EQ(rp.phase(), Phase::additive);
  // Timer T = 1..5 (105..325 us): max(T, BC) = 6 > F, min <= F: additive, Rt = 50.24G, Rc = 50.18841796875G.
  rp.on_timer(325_us);
  EXPECT_EQ(rp.timer_stage(), 5u);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 50.24e9);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50188417968.75);
  // T = 6 (380 us): min(T, BC) = 6 > F: hyper with i = 6 - 5 = 1: Rt += 200M.
  rp.on_timer(380_us);
  EXPECT_EQ(rp.phase(), Phase::hyper);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 50.44e9);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50314208984.375);
  // BC = 7: i = min(6, 7) - 5 = 1 -> Rt = 50.64G.
  rp.on_send(381_us, 1'000'000);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 50.64e9);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50477104492.1875);
  // T = 7 (435 us): i = min(7, 7) - 5 = 2 -> Rt += 400M = 51.04G.
  rp.on_timer(435_us);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 51.04e9);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50758552246.09375);
}

TEST(ReactionPoint, AtMostOneCutPerReducePeriod) {
  DcqcnReactionPoint rp(timer_only(), kLine);
  rp.on_cnp(0);       // cut: 50G
  rp.on_cnp(10_us);   // deferred to 50 us
  rp.on_cnp(20_us);   // coalesced into the deferred cut
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50e9);
  EXPECT_EQ(rp.next_timer(), 50_us);
  rp.on_timer(50_us);  // the deferred cut: Rt = 50G, Rc = 25G (alpha(50 us) = 1)
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 25e9);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 50e9);
  EXPECT_EQ(rp.stats().cnps, 3u);
  EXPECT_EQ(rp.stats().rate_cuts, 2u);
  EXPECT_EQ(rp.stats().deferred, 1u);
  EXPECT_EQ(rp.stats().coalesced, 1u);
  EXPECT_EQ(rp.next_timer(), 105_us);  // increase timer restarted by the deferred cut
}

TEST(ReactionPoint, LateDriverGetsTheSameTraceAsOnTimeDriver) {
  DcqcnParams p = dcqcn_paper();
  p.byte_counter = 3'000'000;
  DcqcnReactionPoint on_time(p, kLine);
  DcqcnReactionPoint late(p, kLine);
  const Nanos cnps[] = {0, 10_us, 400_us, 2000_us};
  const auto run = [&](DcqcnReactionPoint& rp, bool wake_on_time) {
    for (Nanos t : cnps) {
      if (wake_on_time) {
        while (rp.next_timer() <= t) rp.on_timer(rp.next_timer());
      }
      rp.on_cnp(t);
    }
    if (wake_on_time) {
      while (rp.next_timer() <= 5_ms) rp.on_timer(rp.next_timer());
    } else {
      rp.on_timer(5_ms);  // never woke for a timer: each call catches up on the events it missed
    }
  };
  run(on_time, true);
  run(late, false);
  EXPECT_EQ(on_time.current_rate_bps(), late.current_rate_bps());
  EXPECT_EQ(on_time.target_rate_bps(), late.target_rate_bps());
  EXPECT_EQ(on_time.timer_stage(), late.timer_stage());
  EXPECT_EQ(on_time.stats().rate_cuts, late.stats().rate_cuts);
  EXPECT_EQ(on_time.stats().rate_cuts, 4u);  // 0, 50 us (deferred), 400 us, 2000 us
  EXPECT_GT(on_time.stats().timer_increases, 10u);
  EXPECT_EQ(on_time.stats().timer_increases, late.stats().timer_increases);
}

TEST(ReactionPoint, RateNeverDropsBelowMinRate) {
  DcqcnParams p = timer_only();
  p.min_rate_bps = 30e9;
  DcqcnReactionPoint rp(p, kLine);
  rp.on_cnp(0);      // 50G
  rp.on_cnp(50_us);  // 25G -> clamped to 30G
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 30e9);
}

TEST(ReactionPoint, RecoversToLineRateAndStopsItsTimer) {
  DcqcnReactionPoint rp(timer_only(), kLine);
  rp.on_cnp(0);
  int events = 0;
  while (rp.next_timer() != kNever && events < 200) {
    rp.on_timer(rp.next_timer());
    ++events;
    EXPECT_LE(rp.current_rate_bps(), kLine);
    EXPECT_LE(rp.target_rate_bps(), kLine);
  }
  // Rt stays at 100G (additive steps clamp at line rate) and the gap halves each event: 50G / 2^k < 1 bit/s
  // after k = 36 events.
  EXPECT_EQ(events, 36);
  EXPECT_EQ(rp.current_rate_bps(), kLine);
  EXPECT_EQ(rp.phase(), Phase::line_rate);
}

TEST(ReactionPoint, ConnectXClampsTargetOnlyAfterATimerIncrease) {
  DcqcnReactionPoint rp(dcqcn_connectx(), kLine);
  // alpha0 = 1023/1024: Rc = 100G * (1 - 1023/2048) = 50.048828125G; Rt stays 100G (T = 0, no clamp).
  rp.on_cnp(0);
  EXPECT_DOUBLE_EQ(rp.current_rate_bps(), 50048828125.0);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 100e9);
  // alpha = (1019/1024) * 1023/1024 + 5/1024 = 0.999028205871582, then 4 us = 4 alpha periods of decay:
  // 0.999028... * (1019/1024)^4 = 0.97965838...; Rc = 50.048828125G * (1 - 0.97965838/2) = 25.53345109G.
  rp.on_cnp(4_us);
  EXPECT_NEAR(rp.current_rate_bps(), 25533451091.092064, 1e-2);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), 100e9);
  // ConnectX byte counter: 32767 x 64 B per event, F = 1: BC = 1 fast recovery to (100 + 25.53) / 2.
  rp.on_send(5_us, 32767 * 64 - 1);
  EXPECT_EQ(rp.byte_stage(), 0u);
  rp.on_send(5_us, 1);
  EXPECT_EQ(rp.byte_stage(), 1u);
  EXPECT_NEAR(rp.current_rate_bps(), (100e9 + 25533451091.092064) / 2, 1e-2);
  // After a timer-driven increase (T = 1 at 304 us) the next cut clamps the target to the current rate.
  rp.on_timer(304_us);
  ASSERT_EQ(rp.timer_stage(), 1u);
  const double rc_before = rp.current_rate_bps();
  rp.on_cnp(305_us);
  EXPECT_DOUBLE_EQ(rp.target_rate_bps(), rc_before);
}

TEST(ReactionPoint, RejectsImpossibleConfiguration) {
  DcqcnParams p = dcqcn_paper();
  EXPECT_THROW(DcqcnReactionPoint(p, 0), std::invalid_argument);
  p.min_rate_bps = 200e9;
  EXPECT_THROW(DcqcnReactionPoint(p, kLine), std::invalid_argument);
  p = dcqcn_paper();
  p.g = 0;
  EXPECT_THROW(DcqcnReactionPoint(p, kLine), std::invalid_argument);
}

}  // namespace
}  // namespace rfab::cc
