// The one parser for sizes, rates, durations and integers (rfab/base/units.hpp) and its convention
// (docs/units.md): sizes in powers of 1024, rates in SI bits per second, durations with a unit.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "rfab/base/units.hpp"

namespace rfab {
namespace {

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Sizes, KIsAPowerOf1024AsInNcclTestsAndPerftest) {
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("5KB"), 5120u);  // not 5000: one convention for every flag and spec
  EXPECT_EQ(parse_size("5KiB"), 5120u);
  EXPECT_EQ(parse_size("2M"), 2u << 20);
  EXPECT_EQ(parse_size("10MB"), 10u << 20);
  EXPECT_EQ(parse_size("1GiB"), 1u << 30);
  EXPECT_EQ(parse_size("1G"), 1u << 30);
  EXPECT_EQ(parse_size("2T"), 2ull << 40);
  EXPECT_EQ(parse_size("1.5K"), 1536u);
}

TEST(Sizes, PlainDigitsAreBytes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1500"), 1500u);
  EXPECT_EQ(parse_size("1500B"), 1500u);
  EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<uint64_t>::max());  // exact, no double
}

TEST(Sizes, Strict) {
  EXPECT_THROW(parse_size(""), ParseError);
  EXPECT_THROW(parse_size("-1"), ParseError);
  EXPECT_THROW(parse_size("-4K"), ParseError);
  EXPECT_THROW(parse_size("+4K"), ParseError);
  EXPECT_THROW(parse_size("nan"), ParseError);
  EXPECT_THROW(parse_size("inf"), ParseError);
  EXPECT_THROW(parse_size("4K "), ParseError);   // trailing space
  EXPECT_THROW(parse_size(" 4K"), ParseError);
  EXPECT_THROW(parse_size("4Kx"), ParseError);   // trailing garbage
  EXPECT_THROW(parse_size("4Q"), ParseError);
  EXPECT_THROW(parse_size("1.5B"), ParseError);  // not whole bytes
  EXPECT_THROW(parse_size("18446744073709551616"), ParseError);  // 2^64
  EXPECT_THROW(parse_size("16777216T"), ParseError);              // 2^64 bytes
  EXPECT_THROW(parse_size("1e30"), ParseError);
}

TEST(Sizes, ErrorsNameWhatAndValue) {
  const std::string m = error_of([] { parse_size("4Q", "--size"); });
  EXPECT_EQ(m.rfind("--size: bad value \"4Q\": unknown unit \"Q\"", 0), 0u) << m;
  EXPECT_NE(error_of([] { parse_size("-1", "-b"); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { parse_size("99999999999999999999", "-e"); }).find("too large"), std::string::npos);
}

TEST(Rates, BitsPerSecondWithSiMultiples) {
  EXPECT_EQ(parse_rate_bps("400G"), 400e9);
  EXPECT_EQ(parse_rate_bps("100Gbps"), 100e9);
  EXPECT_EQ(parse_rate_bps("1.5Gb/s"), 1.5e9);
  EXPECT_EQ(parse_rate_bps("400Gb"), 400e9);
  EXPECT_DOUBLE_EQ(parse_rate_bps("51.2T"), 51.2e12);
  EXPECT_EQ(parse_rate_bps("40Mbps"), 40e6);
  EXPECT_EQ(parse_rate_bps("40M"), 40e6);
  EXPECT_EQ(parse_rate_bps("10K"), 10e3);
  EXPECT_EQ(parse_rate_bps("400000"), 400000.0);
  EXPECT_EQ(parse_rate_bps("1e9"), 1e9);
  EXPECT_EQ(parse_rate_bps("0"), 0.0);
}

TEST(Rates, Strict) {
  EXPECT_THROW(parse_rate_bps("40MB/s"), ParseError);  // bytes per second: a likely mistake
  EXPECT_THROW(parse_rate_bps("40GB"), ParseError);
  EXPECT_THROW(parse_rate_bps("40 furlongs"), ParseError);
  EXPECT_THROW(parse_rate_bps("-1G"), ParseError);
  EXPECT_THROW(parse_rate_bps("nanG"), ParseError);
  EXPECT_THROW(parse_rate_bps("infG"), ParseError);
  EXPECT_THROW(parse_rate_bps(""), ParseError);
  EXPECT_THROW(parse_rate_bps("1e308T"), ParseError);
  EXPECT_THROW(parse_rate_bps("100Gbpsx"), ParseError);
}

TEST(Durations, NeedAUnit) {
  EXPECT_EQ(parse_duration_ns("300ns"), 300u);
  EXPECT_EQ(parse_duration_ns("55us"), 55000u);
  EXPECT_EQ(parse_duration_ns("1.5ms"), 1500000u);
  EXPECT_EQ(parse_duration_ns("2s"), 2000000000u);
  EXPECT_EQ(parse_duration_ns("2m"), 120000000000u);
  EXPECT_EQ(parse_duration_ns("1h"), 3600000000000u);
  EXPECT_EQ(parse_duration_ns("10US"), 10000u);
  EXPECT_EQ(parse_duration_ns("1500ps"), 2u);  // rounded to the nearest nanosecond
  EXPECT_EQ(parse_duration_ps("10ps"), 10u);
  EXPECT_EQ(parse_duration_ps("1.5ns"), 1500u);
  EXPECT_EQ(parse_duration_ps("500us"), 500'000'000u);
  EXPECT_EQ(parse_duration_ns("0"), 0u);  // zero is zero in every unit
  EXPECT_EQ(parse_duration_ps("0"), 0u);
  EXPECT_THROW(parse_duration_ns("0.0"), ParseError);
  EXPECT_THROW(parse_duration_ns("55"), ParseError);  // ambiguous
  EXPECT_THROW(parse_duration_ps("10"), ParseError);
  EXPECT_NE(error_of([] { parse_duration_ns("55", "--time"); }).find("missing unit"), std::string::npos);
}

TEST(Durations, Strict) {
  EXPECT_THROW(parse_duration_ns("5 min"), ParseError);
  EXPECT_THROW(parse_duration_ns("5min"), ParseError);
  EXPECT_THROW(parse_duration_ns("-1us"), ParseError);
  EXPECT_THROW(parse_duration_ns("us"), ParseError);
  EXPECT_THROW(parse_duration_ns("nanus"), ParseError);
  EXPECT_THROW(parse_duration_ns("infs"), ParseError);
  EXPECT_THROW(parse_duration_ns(""), ParseError);
  EXPECT_THROW(parse_duration_ns("1sx"), ParseError);
  EXPECT_THROW(parse_duration_ns("18446744073709551615s"), ParseError);  // overflows nanoseconds
  EXPECT_THROW(parse_duration_ps("1000000h"), ParseError);                // overflows picoseconds
}

TEST(Integers, RangeCheckedNeverWrapped) {
  EXPECT_EQ(parse_u64("7"), 7u);
  EXPECT_EQ(parse_u64("0x10"), 16u);
  EXPECT_EQ(parse_u64("18446744073709551615"), std::numeric_limits<uint64_t>::max());
  EXPECT_THROW(parse_u64("18446744073709551616"), ParseError);
  EXPECT_EQ(parse_u32("4294967295"), 4294967295u);
  EXPECT_THROW(parse_u32("4294967296"), ParseError);  // would wrap to 0 modulo 2^32
  EXPECT_THROW(parse_u32("4294967312"), ParseError);  // would wrap to 16
  EXPECT_THROW(parse_u64("7.5"), ParseError);
  EXPECT_THROW(parse_u64("-1"), ParseError);
  EXPECT_THROW(parse_u64(""), ParseError);
  EXPECT_THROW(parse_u64("12a"), ParseError);
  EXPECT_THROW(parse_u64(" 12"), ParseError);
  EXPECT_THROW(parse_u64("0x"), ParseError);
  EXPECT_EQ(parse_u64("5", "n", 1, 10), 5u);
  const std::string m = error_of([] { parse_u64("11", "RFAB_X", 1, 10); });
  EXPECT_EQ(m, "RFAB_X: bad value \"11\": out of range: expected an integer in [1, 10]");
}

TEST(Numbers, FractionsAndBools) {
  EXPECT_EQ(parse_number("0.25"), 0.25);
  EXPECT_THROW(parse_number("nan"), ParseError);
  EXPECT_THROW(parse_number("inf"), ParseError);
  EXPECT_THROW(parse_number("-0.5"), ParseError);
  EXPECT_THROW(parse_number("1x"), ParseError);
  EXPECT_EQ(parse_fraction("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(parse_fraction("1%"), 0.01);
  EXPECT_EQ(parse_fraction("100%"), 1.0);
  EXPECT_THROW(parse_fraction("1.5"), ParseError);
  EXPECT_THROW(parse_fraction("x%"), ParseError);
  EXPECT_TRUE(parse_bool("on"));
  EXPECT_TRUE(parse_bool("1"));
  EXPECT_FALSE(parse_bool("No"));
  EXPECT_THROW(parse_bool("maybe"), ParseError);
}

TEST(Format, ParsesBack) {
  EXPECT_EQ(format_duration(55000), "55us");
  EXPECT_EQ(format_duration(1500), "1500ns");
  EXPECT_EQ(format_duration(0), "0ns");
  EXPECT_EQ(format_size(200 * 1024), "200KiB");
  EXPECT_EQ(format_size(200000), "200000B");
  EXPECT_EQ(format_rate(40e6), "40Mbps");
  EXPECT_EQ(format_rate(0.5), "0.5bps");
  for (Nanos d : {Nanos{0}, Nanos{1}, Nanos{999}, Nanos{55000}, Nanos{3000000000}})
    EXPECT_EQ(parse_duration_ns(format_duration(d)), d);
  for (uint64_t b : {uint64_t{0}, uint64_t{1}, uint64_t{5120}, uint64_t{200000}, uint64_t{3} << 30})
    EXPECT_EQ(parse_size(format_size(b)), b);
  for (double r : {1.0, 40e6, 123456789.25, 4e11}) EXPECT_EQ(parse_rate_bps(format_rate(r)), r);
}

}  // namespace
}  // namespace rfab
