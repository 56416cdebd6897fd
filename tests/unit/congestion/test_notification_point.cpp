// DCQCN notification point: one CNP per flow per interval, memory bounded by recently congested flows.
#include <gtest/gtest.h>

#include "rfab/congestion/notification_point.hpp"

namespace rfab::cc {
namespace {

TEST(CnpGenerator, OneCnpPerFlowPerInterval) {
  CnpGenerator np(50_us);
  EXPECT_TRUE(np.on_ce(0, 7));         // first CE of flow 7: CNP now
  EXPECT_FALSE(np.on_ce(10_us, 7));    // within 50 us of the last CNP
  EXPECT_FALSE(np.on_ce(50_us - 1, 7));
  EXPECT_TRUE(np.on_ce(10_us, 8));     // other flows are independent
  EXPECT_TRUE(np.on_ce(50_us, 7));     // a full interval later
  EXPECT_FALSE(np.on_ce(99_us, 7));    // the interval restarts at the CNP sent at 50 us
  EXPECT_TRUE(np.on_ce(100_us, 7));
  EXPECT_EQ(np.stats().ce_packets, 7u);
  EXPECT_EQ(np.stats().cnps, 4u);
}

TEST(CnpGenerator, ZeroIntervalAnswersEveryCePacketAndKeepsNoState) {
  CnpGenerator np(0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(np.on_ce(static_cast<Nanos>(i), 1));
  EXPECT_EQ(np.tracked_flows(), 0u);
}

TEST(CnpGenerator, CallsOutOfTimeOrderCountAsWithinTheInterval) {
  CnpGenerator np(50_us);
  EXPECT_TRUE(np.on_ce(100_us, 1));
  EXPECT_FALSE(np.on_ce(40_us, 1));
}

TEST(CnpGenerator, ExpireForgetsFlowsWhoseIntervalPassed) {
  CnpGenerator np(50_us);
  for (uint64_t f = 0; f < 100; ++f) np.on_ce(f * 1_us, f);  // flow f last CNP at f us
  EXPECT_EQ(np.tracked_flows(), 100u);
  np.expire(100_us);  // flows 0..50 (last CNP <= 50 us) are done
  EXPECT_EQ(np.tracked_flows(), 49u);
  EXPECT_FALSE(np.on_ce(100_us, 99));  // flow 99 (CNP at 99 us) still limited
  EXPECT_TRUE(np.on_ce(100_us, 0));    // an expired flow behaves like a new one
  np.forget(99);
  EXPECT_TRUE(np.on_ce(101_us, 99));
}

TEST(CnpGenerator, MemoryTracksRecentlyCongestedFlowsNotAllFlowsEverSeen) {
  CnpGenerator np(50_us);
  // One million distinct flows, each congested once, 10 ns apart: at any moment only the 5000 flows of
  // the last 50 us matter. The table must stay near that, not grow to a million.
  size_t peak = 0;
  for (uint64_t f = 0; f < 1'000'000; ++f) {
    ASSERT_TRUE(np.on_ce(f * 10, f));
    peak = std::max(peak, np.tracked_flows());
  }
  EXPECT_LE(peak, 4 * 5000u);
  EXPECT_EQ(np.stats().cnps, 1'000'000u);
}

}  // namespace
}  // namespace rfab::cc
