// DCQCN congestion point: RED/WRED marking probabilities at the thresholds, injected randomness,
// reproducibility by seed.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "rfab/congestion/congestion_point.hpp"

namespace rfab::cc {
namespace {

const RedParams kPaper{5000, 200000, 0.01};  // Kmin = 5 KB, Kmax = 200 KB, Pmax = 1%

TEST(Red, ProbabilityAtThresholds) {
  EXPECT_EQ(mark_probability(kPaper, 0), 0.0);
  EXPECT_EQ(mark_probability(kPaper, 5000), 0.0);  // at Kmin: not yet
  // Just above Kmin: 1 byte of a 195000-byte ramp: 0.01 / 195000.
  EXPECT_DOUBLE_EQ(mark_probability(kPaper, 5001), 0.01 / 195000);
  // Midpoint (5000 + 200000) / 2 = 102500: Pmax / 2 = 0.005.
  EXPECT_DOUBLE_EQ(mark_probability(kPaper, 102500), 0.005);
  EXPECT_DOUBLE_EQ(mark_probability(kPaper, 200000), 0.01);  // at Kmax: Pmax
  EXPECT_EQ(mark_probability(kPaper, 200001), 1.0);           // above Kmax: always
}

TEST(Red, InjectedUniformDecides) {
  EXPECT_TRUE(should_mark(kPaper, 102500, 0.0049));
  EXPECT_FALSE(should_mark(kPaper, 102500, 0.005));
  EXPECT_FALSE(should_mark(kPaper, 5000, 0.0));    // p = 0 never marks, even for u = 0
  EXPECT_TRUE(should_mark(kPaper, 300000, 0.9999999));  // p = 1 always marks
}

TEST(Red, EqualThresholdsGiveADctcpStep) {
  const RedParams k{30000, 30000, 1.0};
  EXPECT_EQ(mark_probability(k, 30000), 0.0);
  EXPECT_EQ(mark_probability(k, 30001), 1.0);
}

TEST(EcnMarker, SameSeedSameMarksAndRateConverges) {
  EcnMarker a(kPaper, 42);
  EcnMarker b(kPaper, 42);
  EcnMarker c(kPaper, 43);
  constexpr int kN = 1'000'000;
  int differ = 0;
  for (int i = 0; i < kN; ++i) {
    const bool ma = a.mark(102500);
    EXPECT_EQ(ma, b.mark(102500));
    differ += ma != c.mark(102500) ? 1 : 0;
  }
  EXPECT_GT(differ, 0);  // another seed gives another pattern
  // p = 0.005, n = 1e6: sigma = sqrt(p (1-p) / n) = 7.05e-5; allow 5 sigma.
  const double rate = static_cast<double>(a.stats().marked) / kN;
  EXPECT_NEAR(rate, 0.005, 5 * std::sqrt(0.005 * 0.995 / kN));
  EXPECT_EQ(a.stats().packets, static_cast<uint64_t>(kN));
}

TEST(EcnMarker, RejectsInvertedThresholds) {
  EXPECT_THROW(EcnMarker(RedParams{300000, 200000, 0.01}, 1), std::invalid_argument);
  EXPECT_THROW(EcnMarker(RedParams{5000, 200000, 1.5}, 1), std::invalid_argument);
}

TEST(Wred, PerClassProfiles) {
  Wred w(7);
  w.set_profile(3, kPaper);
  w.set_profile(5, RedParams{0, 0, 1.0});  // marks anything queued
  EXPECT_FALSE(w.mark(0, 1'000'000));      // no profile: never marked
  EXPECT_TRUE(w.mark(3, 200001));
  EXPECT_FALSE(w.mark(3, 5000));
  EXPECT_TRUE(w.mark(5, 1));
  w.clear_profile(5);
  EXPECT_FALSE(w.mark(5, 1));
  EXPECT_THROW(w.set_profile(8, kPaper), std::invalid_argument);
  EXPECT_FALSE(w.mark(9, 1'000'000));
}

}  // namespace
}  // namespace rfab::cc
