// The shared key=value spec parser and its units.
#include <gtest/gtest.h>

#include "rfab/congestion/rng.hpp"
#include "rfab/congestion/spec.hpp"

namespace rfab::spec {
namespace {

TEST(Spec, SplitTrimsAndLowercasesKeys) {
  const auto kv = split(" Drop = 1% , delay=10us ", "test");
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[0].key, "drop");
  EXPECT_EQ(kv[0].value, "1%");
  EXPECT_EQ(kv[1].key, "delay");
  EXPECT_EQ(kv[1].value, "10us");
  EXPECT_TRUE(split("", "test").empty());
  EXPECT_THROW(split("a=1,", "test"), SpecError);
  EXPECT_THROW(split("=1", "test"), SpecError);
  EXPECT_THROW(split("a=", "test"), SpecError);
}

TEST(Spec, Durations) {
  EXPECT_EQ(parse_duration("300ns"), 300u);
  EXPECT_EQ(parse_duration("55us"), 55000u);
  EXPECT_EQ(parse_duration("1.5ms"), 1500000u);
  EXPECT_EQ(parse_duration("2s"), 2000000000u);
  EXPECT_EQ(parse_duration("10US"), 10000u);
  EXPECT_THROW(parse_duration("55"), SpecError);     // unit required
  EXPECT_THROW(parse_duration("5 min"), SpecError);  // unknown unit
  EXPECT_THROW(parse_duration("-1us"), SpecError);
  EXPECT_THROW(parse_duration("us"), SpecError);
}

TEST(Spec, Bytes) {
  EXPECT_EQ(parse_bytes("1500"), 1500u);
  EXPECT_EQ(parse_bytes("1500B"), 1500u);
  EXPECT_EQ(parse_bytes("5KB"), 5000u);
  EXPECT_EQ(parse_bytes("5KiB"), 5120u);
  EXPECT_EQ(parse_bytes("10MB"), 10000000u);
  EXPECT_EQ(parse_bytes("1MiB"), 1048576u);
  EXPECT_EQ(parse_bytes("1.5KB"), 1500u);
  EXPECT_THROW(parse_bytes("1.5B"), SpecError);
  EXPECT_THROW(parse_bytes("5XB"), SpecError);
}

TEST(Spec, Rates) {
  EXPECT_EQ(parse_rate_bps("40Mbps"), 40e6);
  EXPECT_EQ(parse_rate_bps("40M"), 40e6);
  EXPECT_EQ(parse_rate_bps("100G"), 100e9);
  EXPECT_EQ(parse_rate_bps("1.5Gb/s"), 1.5e9);
  EXPECT_EQ(parse_rate_bps("400000"), 400000.0);
  EXPECT_THROW(parse_rate_bps("40MB/s"), SpecError);
  EXPECT_THROW(parse_rate_bps("40 furlongs"), SpecError);
}

TEST(Spec, FractionsIntegersBools) {
  EXPECT_EQ(parse_fraction("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(parse_fraction("1%"), 0.01);
  EXPECT_EQ(parse_fraction("100%"), 1.0);
  EXPECT_THROW(parse_fraction("1.5"), SpecError);
  EXPECT_THROW(parse_fraction("x%"), SpecError);
  EXPECT_EQ(parse_uint("7"), 7u);
  EXPECT_THROW(parse_uint("7.5"), SpecError);
  EXPECT_THROW(parse_uint("-1"), SpecError);
  EXPECT_THROW(parse_uint("99999999999999999999999"), SpecError);
  EXPECT_TRUE(parse_bool("on"));
  EXPECT_FALSE(parse_bool("No"));
  EXPECT_THROW(parse_bool("maybe"), SpecError);
}

TEST(Spec, FormatParsesBack) {
  EXPECT_EQ(format_duration(55000), "55us");
  EXPECT_EQ(format_duration(1500), "1500ns");
  EXPECT_EQ(format_duration(0), "0ns");
  EXPECT_EQ(format_bytes(200000), "200KB");
  EXPECT_EQ(format_rate(40e6), "40Mbps");
  EXPECT_EQ(format_rate(0.5), "0.5bps");
  for (Nanos d : {Nanos{0}, Nanos{1}, Nanos{999}, Nanos{55000}, Nanos{3000000000}}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d);
  }
  for (double r : {1.0, 40e6, 123456789.25, 4e11}) EXPECT_EQ(parse_rate_bps(format_rate(r)), r);
}

TEST(SplitMix64, KnownSequenceAndRanges) {
  // Reference values of SplitMix64 seeded with 0 (as printed by the reference C implementation).
  cc::SplitMix64 r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(r.next(), 0x6E789E6AA1B965F4ull);
  cc::SplitMix64 u(99);
  for (int i = 0; i < 10000; ++i) {
    const double x = u.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    ASSERT_LT(u.below(7), 7u);
  }
}

}  // namespace
}  // namespace rfab::spec
