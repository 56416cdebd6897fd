// The collector's request-PSN window (psn_window_step.h), run in user space through PsnWindow: the same C
// code the BPF programs run under the window's lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "rfab/telemetry/psn_window.hpp"

namespace rfab::telemetry {
namespace {

constexpr uint64_t kMs = 1'000'000;

// What a stream of steps added up to.
struct Tally {
  uint64_t opened = 0, lost = 0, reordered = 0, late = 0, duplicates = 0, too_old = 0;
  uint32_t distance_max = 0;
  void add(const rfab_psn_step& st) {
    opened += st.opened;
    lost += st.lost;
    if (st.kind == RFAB_PSN_REORDERED) ++reordered;
    if (st.kind == RFAB_PSN_LATE) ++late, ++lost;
    if (st.kind == RFAB_PSN_DUPLICATE) ++duplicates;
    if (st.kind == RFAB_PSN_TOO_OLD) ++too_old;
    if (st.kind == RFAB_PSN_REORDERED || st.kind == RFAB_PSN_LATE) distance_max = std::max(distance_max, st.distance);
  }
};

uint32_t psn_add(uint32_t psn, int64_t n) { return static_cast<uint32_t>(psn + n) & RFAB_PSN_MASK; }

TEST(TelemetryPsnWindowStep, InOrderStreamOpensNothingAndTakesTheFastPath) {
  PsnWindow w;
  EXPECT_EQ(w.step(1000, 0).kind, RFAB_PSN_FIRST);
  EXPECT_FALSE(w.in_order(1002)) << "not the expected PSN";
  for (uint32_t psn = 1001; psn < 3000; ++psn) ASSERT_TRUE(w.in_order(psn)) << psn;
  EXPECT_EQ(w.state().expected, 3000u);
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  const rfab_psn_step st = w.step(3000, 0);
  EXPECT_EQ(st.kind, RFAB_PSN_FORWARD);
  EXPECT_EQ(st.opened, 0u);
  EXPECT_EQ(st.lost, 0u);
}

TEST(TelemetryPsnWindowStep, ReorderedBy200IsNotLoss) {
  PsnWindow w;
  Tally t;
  for (uint32_t psn = 0; psn < 10; ++psn) t.add(w.step(psn, 0));
  for (uint32_t psn = 11; psn <= 210; ++psn) t.add(w.step(psn, 0));  // 10 overtaken by 200 PSNs
  EXPECT_EQ(t.opened, 1u);
  EXPECT_EQ(outstanding_holes(w.state()), 1u);
  EXPECT_EQ(open_hole_psns(w.state()), std::vector<uint32_t>{10});
  const rfab_psn_step st = w.step(10, 0);
  EXPECT_EQ(st.kind, RFAB_PSN_REORDERED);
  EXPECT_EQ(st.distance, 200u);
  t.add(st);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.reordered, 1u);
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  EXPECT_TRUE(w.in_order(211));
  // The fast path takes in-order PSNs while a hole is open, as long as none leaves the window.
  w.step(213, 0);  // 212 open
  for (uint32_t psn = 214; psn < 212 + RFAB_PSN_WINDOW; ++psn) ASSERT_TRUE(w.in_order(psn)) << psn;
  EXPECT_FALSE(w.in_order(212 + RFAB_PSN_WINDOW)) << "212 would leave the window: the general step counts it";
  EXPECT_EQ(w.step(212 + RFAB_PSN_WINDOW, 0).lost, 1u);
}

TEST(TelemetryPsnWindowStep, HoleIsLostWhenItFallsOutOfTheWindowAndItsPsnIsThenTooOld) {
  PsnWindow w;
  Tally t;
  t.add(w.step(4, 0));
  t.add(w.step(6, 0));  // 5 missing
  // The window is the highest PSN and the 255 below it: 5 stays inside up to highest 260.
  for (uint32_t psn = 7; psn <= 5 + RFAB_PSN_WINDOW - 1; ++psn) t.add(w.step(psn, 0));
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(outstanding_holes(w.state()), 1u);
  EXPECT_FALSE(w.in_order(5 + RFAB_PSN_WINDOW)) << "its arrival pushes the hole out";
  const rfab_psn_step st = w.step(5 + RFAB_PSN_WINDOW, 0);
  EXPECT_EQ(st.kind, RFAB_PSN_FORWARD);
  EXPECT_EQ(st.lost, 1u);
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  EXPECT_EQ(w.step(5, 0).kind, RFAB_PSN_TOO_OLD);
  EXPECT_EQ(w.step(4, 0).kind, RFAB_PSN_TOO_OLD) << "an old duplicate looks the same";
  EXPECT_EQ(w.step(6, 0).kind, RFAB_PSN_DUPLICATE) << "the window's lowest PSN, seen";
}

TEST(TelemetryPsnWindowStep, DuplicatesAreNotFillsAndOpenNothing) {
  PsnWindow w;
  for (uint32_t psn = 100; psn < 150; ++psn)
    if (psn != 120) w.step(psn, 0);
  EXPECT_EQ(w.step(149, 0).kind, RFAB_PSN_DUPLICATE) << "the highest again";
  EXPECT_EQ(w.step(130, 0).kind, RFAB_PSN_DUPLICATE) << "seen, inside the window";
  EXPECT_EQ(w.step(100, 0).kind, RFAB_PSN_DUPLICATE) << "the first PSN, inside the window";
  EXPECT_EQ(w.step(99, 0).kind, RFAB_PSN_DUPLICATE) << "below the first PSN: never a hole";
  EXPECT_EQ(w.step(120, 0).kind, RFAB_PSN_REORDERED);
  EXPECT_EQ(w.step(120, 0).kind, RFAB_PSN_DUPLICATE) << "the resend after the late original";
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  EXPECT_EQ(w.state().expected, 150u);
}

TEST(TelemetryPsnWindowStep, PsnsWrapThrough24Bits) {
  PsnWindow w;
  Tally t;
  const uint32_t start = 0xFFFF80;
  // 0xFFFFFF and 0x000005 held back by 200 PSNs, 0x000010 never sent.
  std::vector<uint32_t> order;
  for (int i = 0; i < 600; ++i) {
    const uint32_t psn = psn_add(start, i);
    if (psn != 0xFFFFFF && psn != 0x000005 && psn != 0x000010) order.push_back(psn);
    if (i == 300) order.push_back(0xFFFFFF), order.push_back(0x000005);
  }
  for (uint32_t psn : order) t.add(w.step(psn, 0));
  EXPECT_EQ(t.opened, 3u);
  EXPECT_EQ(t.reordered, 2u);
  EXPECT_EQ(t.lost, 1u) << "0x000010 left the window";
  EXPECT_EQ(t.duplicates + t.too_old, 0u);
  EXPECT_EQ(t.distance_max, 173u) << "0xFFFFFF (offset 127) under 0x0000AC (offset 300)";
  EXPECT_EQ(w.state().expected, psn_add(start, 600));
}

TEST(TelemetryPsnWindowStep, AJumpBeyondTheWindowLosesWhatNeverEnteredIt) {
  PsnWindow w;
  w.step(100, 0);
  w.step(102, 0);  // 101 open
  rfab_psn_step st = w.step(1102, 0);
  EXPECT_EQ(st.opened, 999u);
  EXPECT_EQ(st.lost, 1u + (999u - (RFAB_PSN_WINDOW - 1))) << "101, and the skipped PSNs below the new window";
  EXPECT_EQ(outstanding_holes(w.state()), RFAB_PSN_WINDOW - 1);
  const auto open = open_hole_psns(w.state());
  EXPECT_EQ(open.front(), 1101u);
  EXPECT_EQ(open.back(), 1102u - (RFAB_PSN_WINDOW - 1));
  // A jump of exactly one window: every hole leaves, the skipped PSNs all stay inside.
  st = w.step(1102 + RFAB_PSN_WINDOW, 0);
  EXPECT_EQ(st.lost, RFAB_PSN_WINDOW - 1);
  EXPECT_EQ(st.opened, RFAB_PSN_WINDOW - 1);
  EXPECT_EQ(outstanding_holes(w.state()), RFAB_PSN_WINDOW - 1);
}

TEST(TelemetryPsnWindowStep, AHoleOpenLongerThanTheTimeoutIsLostAndItsFillIsLate) {
  PsnWindow w(1 * kMs);
  w.step(10, 0);
  w.step(12, 100'000);  // 11 opens at 0.1 ms
  w.step(14, 200'000);  // 13 opens at 0.2 ms
  rfab_psn_step st = w.step(13, 900'000);
  EXPECT_EQ(st.kind, RFAB_PSN_REORDERED) << "open 0.7 ms (to a stamp group: its oldest hole's 0.8 ms)";
  EXPECT_GE(st.age_ns, 690'000u);
  EXPECT_LE(st.age_ns, 810'000u);
  st = w.step(11, 1'300'000);  // open 1.2 ms: a resend
  EXPECT_EQ(st.kind, RFAB_PSN_LATE);
  EXPECT_EQ(st.distance, 3u);
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  EXPECT_EQ(w.step(11, 1'400'000).kind, RFAB_PSN_DUPLICATE) << "the late original after its resend";
  // Without a timeout only the window loses holes.
  PsnWindow untimed(0);
  untimed.step(10, 0);
  untimed.step(12, 0);
  EXPECT_EQ(untimed.step(11, 3'600'000 * kMs).kind, RFAB_PSN_REORDERED);
}

// Stamps are per group of RFAB_PSN_STAMP_PSNS PSNs: a group that still has an open hole keeps the older
// stamp; one whose holes all filled takes the next jump's time.
TEST(TelemetryPsnWindowStep, AStampGroupKeepsItsOldestOpenHolesTime) {
  PsnWindow w(1 * kMs);
  w.step(0, 0);
  w.step(2, 0);             // 1 open at 0
  w.step(4, 900'000);       // 3 open at 0.9 ms, same group as 1
  EXPECT_EQ(w.step(3, 1'200'000).kind, RFAB_PSN_LATE) << "the group's stamp is its oldest hole's";
  EXPECT_EQ(w.step(1, 1'200'000).kind, RFAB_PSN_LATE);
  w.step(6, 1'300'000);     // 5 open at 1.3 ms: the group had no hole left
  EXPECT_EQ(w.step(5, 1'400'000).kind, RFAB_PSN_REORDERED);
}

TEST(TelemetryPsnWindowStep, AReadRequestsResponsesOpenNoHoles) {
  PsnWindow w;
  w.step(50, 0, /*is_read=*/true);
  rfab_psn_step st = w.step(58, 0);  // 8 response PSNs later
  EXPECT_EQ(st.kind, RFAB_PSN_FORWARD);
  EXPECT_EQ(st.opened, 0u);
  EXPECT_EQ(outstanding_holes(w.state()), 0u);
  st = w.step(60, 0);  // not after a READ: 59 is a hole
  EXPECT_EQ(st.opened, 1u);
}

// A reference model with one entry per PSN (no ring, no groups), for random sprayed streams: every
// count must agree, and every hole is reordered, lost or still open.
struct Reference {
  bool valid = false;
  uint32_t highest = 0;
  std::set<uint32_t> open;  // PSNs as offsets from the first, unwrapped
  Tally t;
  void step(uint32_t psn) {
    if (!valid) {
      valid = true;
      highest = psn;
      return;
    }
    if (psn > highest) {
      for (uint32_t p = highest + 1; p < psn; ++p) open.insert(p), ++t.opened;
      highest = psn;
      for (auto it = open.begin(); it != open.end() && *it + RFAB_PSN_WINDOW <= highest;) it = open.erase(it), ++t.lost;
      return;
    }
    if (highest - psn >= RFAB_PSN_WINDOW) ++t.too_old;
    else if (open.erase(psn)) ++t.reordered, t.distance_max = std::max(t.distance_max, highest - psn);
    else ++t.duplicates;
  }
};

TEST(TelemetryPsnWindowStep, RandomSprayedStreamsMatchAPerPsnReferenceAndTheFastPathChangesNothing) {
  std::mt19937 gen(12345);
  auto rng = [&] { return static_cast<uint32_t>(gen()); };
  for (int run = 0; run < 50; ++run) {
    const uint32_t base = run % 2 ? 0xFFFE00 : rng() & RFAB_PSN_MASK;  // half of them wrap
    const uint32_t depth = 1 + rng() % 400;                              // up to beyond the window
    std::vector<std::pair<uint32_t, uint32_t>> sends;                   // (arrival key, offset)
    for (uint32_t i = 0; i < 3000; ++i) {
      if (rng() % 100 == 0) continue;                                     // dropped
      const uint32_t delay = rng() % 4 == 0 ? rng() % depth : 0;
      sends.emplace_back(i + delay, i);
      if (rng() % 200 == 0) sends.emplace_back(i + delay + rng() % 300, i);  // a duplicate
    }
    std::stable_sort(sends.begin(), sends.end());
    PsnWindow general(0), fast(0);
    Reference ref;
    Tally t;
    for (const auto& [key, offset] : sends) {
      const uint32_t psn = psn_add(base, offset);
      ref.step(offset);
      t.add(general.step(psn, 0));
      if (!fast.in_order(psn)) fast.step(psn, 0);
      ASSERT_EQ(std::memcmp(&general.state(), &fast.state(), sizeof(rfab_psn_window)), 0) << "run " << run;
    }
    SCOPED_TRACE("run " + std::to_string(run) + " depth " + std::to_string(depth));
    EXPECT_EQ(t.opened, ref.t.opened);
    EXPECT_EQ(t.lost, ref.t.lost);
    EXPECT_EQ(t.reordered, ref.t.reordered);
    EXPECT_EQ(t.duplicates, ref.t.duplicates);
    EXPECT_EQ(t.too_old, ref.t.too_old);
    EXPECT_EQ(t.distance_max, ref.t.distance_max);
    EXPECT_EQ(outstanding_holes(general.state()), ref.open.size());
    EXPECT_EQ(general.state().open, ref.open.size());
    EXPECT_EQ(t.opened, t.reordered + t.lost + outstanding_holes(general.state()));
  }
}

}  // namespace
}  // namespace rfab::telemetry
