// Fault spec parsing: every key, clear errors naming key and value, describe() round trip.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "rfab/base/spec.hpp"
#include "rfab/fault/fault_injector.hpp"

namespace rfab::fault {
namespace {

std::string error_of(const char* text) {
  try {
    parse_fault(text);
  } catch (const spec::SpecError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FaultConfig, ParsesTheDocumentedExample) {
  const FaultConfig c = parse_fault("drop=0.01,dup=0.001,reorder=0.05,delay=10us,jitter=5us,corrupt=0.001,seed=7");
  EXPECT_EQ(c.drop, 0.01);
  EXPECT_EQ(c.duplicate, 0.001);
  EXPECT_EQ(c.reorder, 0.05);
  EXPECT_EQ(c.delay, 10_us);
  EXPECT_EQ(c.jitter, 5_us);
  EXPECT_EQ(c.corrupt, 0.001);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_TRUE(c.any());

  const FaultConfig d = parse_fault("drop=5%,depth=8,hold=1ms");
  EXPECT_DOUBLE_EQ(d.drop, 0.05);
  EXPECT_EQ(d.reorder_depth, 8u);
  EXPECT_EQ(d.reorder_hold, 1_ms);

  EXPECT_EQ(parse_fault(""), FaultConfig{});
  EXPECT_EQ(parse_fault("none"), FaultConfig{});
  EXPECT_FALSE(parse_fault("none").any());
}

TEST(FaultConfig, ErrorsNameTheKeyAndTheValue) {
  EXPECT_EQ(error_of("drop=2"),
            "fault spec: bad value \"2\" for key \"drop\": expected a probability between 0 and 1 (or 0% and 100%)");
  EXPECT_NE(error_of("loss=0.1").find("unknown key \"loss\" (valid keys: drop, dup"), std::string::npos);
  EXPECT_NE(error_of("delay=10").find("key \"delay\": missing unit"), std::string::npos);
  EXPECT_NE(error_of("depth=0").find("key \"depth\""), std::string::npos);
  EXPECT_NE(error_of("seed=-3").find("key \"seed\""), std::string::npos);
  EXPECT_NE(error_of("drop").find("not key=value"), std::string::npos);
}

TEST(FaultConfig, DescribeRoundTrips) {
  const FaultConfig c = parse_fault("drop=0.125,dup=1e-05,reorder=0.5,corrupt=0.3,delay=3ms,jitter=7ns,depth=9,"
                                    "hold=2us,seed=18446744073709551615");
  EXPECT_EQ(parse_fault(describe(c)), c) << describe(c);
}

TEST(FaultConfig, InjectorRejectsInvalidConfigBuiltInCode) {
  FaultConfig c;
  c.drop = 1.5;
  EXPECT_THROW(FaultInjector{c}, std::invalid_argument);
  c = FaultConfig{};
  c.reorder_depth = 0;
  EXPECT_THROW(FaultInjector{c}, std::invalid_argument);
}

}  // namespace
}  // namespace rfab::fault
