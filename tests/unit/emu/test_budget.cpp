// The set-up memory estimate counts what a run will hold, including the counters --telemetry and
// --prometheus keep, so a run that fits without them but not with them is refused before it starts.
#include <gtest/gtest.h>

#include "rfab/emu/budget.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {
namespace {

ScenarioSpec small(const char* engine) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=8,tiers=3,speed=400G";
  s.traffic = "all-to-all:bytes=4K";
  s.engine = engine;
  s.duration = 2'000'000;  // 2 us: only the set-up matters here
  return s;
}

TEST(Budget, CountersScaleWithPortsFlowsAndCopies) {
  const topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=8,tiers=3,speed=400G"));
  EXPECT_EQ(estimate_counter_memory(tree, 100, 0), 0u);
  const uint64_t one = estimate_counter_memory(tree, 100, 1);
  EXPECT_EQ(one, tree.ports() * sizeof(PortCounters) + 100 * sizeof(FlowCounters));
  EXPECT_EQ(estimate_counter_memory(tree, 100, 3), 3 * one);
  EXPECT_EQ(estimate_counter_memory(tree, 200, 1) - one, 100 * sizeof(FlowCounters));
  const topo::FatTree planes(topo::parse_fat_tree("fat-tree:hosts=1024,speed=800G,switch=51.2T,planes=2"));
  EXPECT_EQ(estimate_counter_memory(planes, 0, 1), 2ull * planes.ports() * sizeof(PortCounters));
}

TEST(Budget, TelemetryCountersAreInTheRunsEstimateAndItsLimit) {
  const topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=8,tiers=3,speed=400G"));
  for (const char* engine : {"packet", "flow"}) {
    ScenarioSpec s = small(engine);
    const Report plain = run_scenario(s);
    s.counters = true;
    const Report counted = run_scenario(s);
    ASSERT_EQ(counted.flows, plain.flows);
    // The packet engine's counters and the report's copy of them; the flow engine builds one set.
    const unsigned copies = std::string(engine) == "packet" ? 2 : 1;
    EXPECT_EQ(counted.memory_estimate - plain.memory_estimate, estimate_counter_memory(tree, plain.flows, copies))
        << engine;
    // A limit the run's estimate fits without counters refuses it with them at set-up, before it runs.
    // (Without counters it would pass set-up; whether it then stays under the limit depends on the
    // process's resident memory, which includes the test's, so that is not asserted.)
    s.memory_limit = MemoryLimit{plain.memory_estimate + 1, "--max-memory"};
    try {
      (void)run_scenario(s);
      ADD_FAILURE() << engine << ": a run over its limit was not refused";
    } catch (const ResourceError& e) {
      EXPECT_NE(std::string(e.what()).find("needs an estimated"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--max-memory"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace rfab::emu
