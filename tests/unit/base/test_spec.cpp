// The shared key=value spec splitter (rfab/base/spec.hpp).
#include <gtest/gtest.h>

#include "rfab/base/spec.hpp"

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
}

TEST(Spec, SplitRejectsMalformedItems) {
  EXPECT_THROW(split("a=1,", "test"), SpecError);   // stray comma
  EXPECT_THROW(split("a=1,,b=2", "test"), SpecError);
  EXPECT_THROW(split("=1", "test"), SpecError);     // empty key
  EXPECT_THROW(split("a=", "test"), SpecError);     // empty value
  EXPECT_THROW(split("a", "test"), SpecError);      // no '='
  try {
    split("a=1,A=2", "fault spec");
    FAIL() << "duplicate key accepted";
  } catch (const SpecError& e) {
    EXPECT_STREQ(e.what(), "fault spec: key \"a\" given twice");
  }
}

TEST(Spec, SplitKind) {
  const KindSpec k = split_kind("fat-tree:k=16,tiers=3", "topology");
  EXPECT_EQ(k.kind, "fat-tree");
  ASSERT_EQ(k.values.size(), 2u);
  EXPECT_EQ(k.values[1].key, "tiers");
  EXPECT_TRUE(split_kind("permutation", "traffic").values.empty());
  EXPECT_TRUE(split_kind("permutation:", "traffic").values.empty());
  EXPECT_THROW(split_kind(":k=1", "topology"), SpecError);
  EXPECT_THROW(split_kind("fat-tree:k=1,k=2", "topology"), SpecError);
}

TEST(Spec, ParseValueNamesSpecKeyAndValue) {
  const auto kv = split("delay=10", "fault spec");
  try {
    parse_value("fault spec", kv[0], parse_duration);
    FAIL() << "a duration without a unit was accepted";
  } catch (const SpecError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("fault spec: bad value \"10\" for key \"delay\": missing unit", 0), 0u) << m;
  }
  EXPECT_EQ(parse_value("fault spec", split("delay=10us", "x")[0], parse_duration), 10000u);
}

TEST(Spec, SpecErrorIsTheBaseParseError) {
  EXPECT_THROW(split("a", "x"), ParseError);
  EXPECT_THROW(split("a", "x"), std::invalid_argument);
}

}  // namespace
}  // namespace rfab::spec
