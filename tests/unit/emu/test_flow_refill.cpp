// The flow engine's incremental refill (grow a set of flows until every flow has a bottleneck) against
// filling the whole connected component at every event: the same max-min rates, so the same completion
// times, on traffic where many flows share links at once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {
namespace {

constexpr Picos kUs = 1'000'000;

struct Case {
  const char* topo;
  const char* traffic;
  Routing routing;
  uint16_t spray;
};

void expect_same_completions(const Case& c) {
  const topo::FatTree tree(topo::parse_fat_tree(c.topo));
  EmuConfig cfg;
  cfg.routing = c.routing;
  cfg.spray_paths = c.spray;
  cfg.seed = 11;
  const Traffic traffic = make_any_traffic(c.traffic, tree, cfg.seed);
  FlowEngine incremental(tree, cfg, traffic), whole(tree, cfg, traffic);
  whole.set_whole_component_refills(true);
  incremental.run_until(1'000'000 * kUs);
  whole.run_until(1'000'000 * kUs);
  ASSERT_EQ(incremental.flow_count(), whole.flow_count());
  double worst = 0;
  for (uint32_t f = 0; f < whole.flow_count(); ++f) {
    ASSERT_NE(whole.flow_done(f), kNeverPs) << c.traffic << " flow " << f;
    const double a = double(incremental.flow_done(f)), b = double(whole.flow_done(f));
    worst = std::max(worst, std::abs(a - b) / b);
    ASSERT_NEAR(a, b, 2.0 + b * 1e-8) << c.topo << " " << c.traffic << " flow " << f;
  }
  std::printf("%s %s: %zu flows, refilled %llu flows incrementally against %llu, worst relative gap %.2e\n", c.topo,
              c.traffic, whole.flow_count(), (unsigned long long)incremental.stats().refilled_flows,
              (unsigned long long)whole.stats().refilled_flows, worst);
  EXPECT_LE(incremental.stats().refilled_flows, whole.stats().refilled_flows);
}

}  // namespace

TEST(FlowRefill, EcmpPermutation) {
  expect_same_completions({"fat-tree:k=8,tiers=3,speed=400G", "permutation:bytes=3M", Routing::ecmp, 0});
}

TEST(FlowRefill, SprayAndPlanesShareLinksUnevenly) {
  expect_same_completions({"fat-tree:k=8,tiers=3,speed=400G", "all-to-all:bytes=100K", Routing::ecmp, 4});
  expect_same_completions({"fat-tree:k=8,tiers=3,speed=800G,planes=2", "all-to-all:bytes=100K", Routing::ecmp, 0});
}

TEST(FlowRefill, CollectiveStepsWithDependencies) {
  expect_same_completions({"fat-tree:k=8,tiers=3,rails=4", "step:allreduce=hier,bytes=64M,inter=rhd", Routing::ecmp, 0});
  expect_same_completions({"fat-tree:k=8,tiers=3,rails=4", "step:allreduce=hier,bytes=64M,inter=rhd", Routing::ar, 0});
  expect_same_completions({"fat-tree:k=8,tiers=3,rails=4",
                           "step:train=gpipe,tp=4,pp=4,ep=2,microbatches=4,grad=64M,act=4M,moe=8M,tp-bytes=4M",
                           Routing::ecmp, 0});
}

}  // namespace rfab::emu
