// The seeded PRNG (rfab/base/rng.hpp).
#include <gtest/gtest.h>

#include "rfab/base/rng.hpp"

namespace rfab {
namespace {

TEST(SplitMix64, KnownSequenceAndRanges) {
  // Reference values of SplitMix64 seeded with 0 (as printed by the reference C implementation).
  SplitMix64 r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(r.next(), 0x6E789E6AA1B965F4ull);
  SplitMix64 u(99);
  for (int i = 0; i < 10000; ++i) {
    const double x = u.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    ASSERT_LT(u.below(7), 7u);
  }
}

}  // namespace
}  // namespace rfab
