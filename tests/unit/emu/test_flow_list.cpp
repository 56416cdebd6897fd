// The flow-list helpers both host stacks share: validation, dependents, and the reported figures.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rfab/emu/flow_list.hpp"

using namespace rfab::emu;

namespace {
constexpr Picos kUs = 1'000'000;
}  // namespace

TEST(FlowList, ChecksFlowsAndFindsDependents) {
  auto error_of = [](const std::vector<FlowSpec>& flows) {
    try {
      check_flows(flows, 16);
    } catch (const TrafficError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of({{0, 1, 100, 0, kNoFlow}, {3, 3, 100, 0, kNoFlow}}),
            "traffic: flow 1 has a bad src/dst pair");
  EXPECT_EQ(error_of({{0, 16, 100, 0, kNoFlow}}), "traffic: flow 0 has a bad src/dst pair");
  EXPECT_EQ(error_of({{0, 1, 100, 0, 1}}), "traffic: flow 0 waits for a flow that does not exist");
  EXPECT_EQ(error_of({{0, 1, 100, 0, kNoFlow}, {1, 2, 100, 0, 0}}), "no error");

  EXPECT_TRUE(flow_dependents({{0, 1, 100, 0, kNoFlow}, {1, 2, 100, 0, kNoFlow}}).empty());
  auto deps =
      flow_dependents({{0, 1, 100, 0, kNoFlow}, {1, 2, 100, 0, 0}, {2, 3, 100, 0, 0}, {3, 4, 1, 0, 2}});
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[0], (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(deps[1].empty());
  EXPECT_EQ(deps[2], (std::vector<uint32_t>{3}));
}

TEST(FlowList, OfferedBitsSpanEachSendersBusyTime) {
  struct Flow {
    FlowSpec spec;
    Picos started = kNeverPs, done = kNeverPs;
  };
  std::vector<Flow> flows = {
      {{0, 1, 100, 0, kNoFlow}, 0, 10 * kUs},         // host 0: 0 .. 10 us
      {{0, 2, 100, 0, kNoFlow}, 5 * kUs, kNeverPs},   // host 0 still sending at the end: .. 20 us
      {{1, 2, 100, 0, kNoFlow}, 2 * kUs, 4 * kUs},    // host 1: 2 us
      {{2, 3, 100, 0, kNoFlow}, kNeverPs, kNeverPs},  // never started
  };
  EXPECT_DOUBLE_EQ(offered_bits(flows, 4, 100e9, 20 * kUs), 22e-6 * 100e9);
  EXPECT_EQ(completion_times(flows), (std::vector<Picos>{10 * kUs, 2 * kUs}));
}
