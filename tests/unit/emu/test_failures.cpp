// Failed links and switches: the spec, reachability, and traffic routed around them (closed forms on small
// trees: a leaf that loses half its uplinks gives its flows half the rate).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rfab/emu/failures.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/topology/spec.hpp"
#include "rig.hpp"

namespace rfab::emu {
namespace {

using test::Rig;
constexpr Picos kUs = 1'000'000;

topo::FatTree tree_of(const std::string& spec) { return topo::FatTree(topo::parse_fat_tree(spec)); }

TEST(Failures, NamedLinksAndSwitchesFailBothDirections) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3");
  const FailureSet f = parse_failures("link:leaf0-agg1;switch:core3", t, 1);
  EXPECT_EQ(f.links, 1u + 8u);  // a core of a k=8 tree has one link to each of 8 pods
  EXPECT_EQ(f.switches, 1u);
  EXPECT_EQ(f.ports.size(), 2u * f.links);
  for (topo::PortId p : f.ports) EXPECT_NE(std::find(f.ports.begin(), f.ports.end(), t.peer(p)), f.ports.end());
  // The same link twice, or a switch whose link is already down, counts each link once.
  EXPECT_EQ(parse_failures("link:leaf0-agg1;link:agg1-leaf0", t, 1).links, 1u);
}

TEST(Failures, RandomFailuresFollowTheSeedAndTheFraction) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3");
  // k=8: 32 leaves x 4 uplinks + 32 aggs x 4 uplinks = 256 switch-to-switch links.
  EXPECT_EQ(parse_failures("random-links:0.25", t, 7).links, 64u);
  EXPECT_EQ(parse_failures("random-links:0.25", t, 7).ports, parse_failures("random-links:0.25", t, 7).ports);
  EXPECT_NE(parse_failures("random-links:0.25", t, 7).ports, parse_failures("random-links:0.25", t, 8).ports);
  EXPECT_EQ(parse_failures("random-switches:3", t, 7).switches, 3u);
  EXPECT_EQ(parse_failures("random-links:0", t, 7).links, 0u);
}

TEST(Failures, BadSpecsNameTheProblem) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3");
  const std::pair<const char*, const char*> cases[] = {
      {"link:leaf0-core0", "not linked"},        {"link:leaf0", "link:A-B"},
      {"link:leaf99-agg0", "leaf0..leaf31"},     {"switch:leaf2", "single-homed"},
      {"switch:spine1", "not a switch name"},    {"random-links:1.5", "random-links:1.5"},
      {"random-switches:999", "only 48"},        {"cable:leaf0-agg0", "unknown kind"},
      {"link:leaf0-agg0;;switch:core0", "empty item"}, {"core0", "kind:value"},
      {"switch:corex", "coreN"},
  };
  for (const auto& [spec, want] : cases) {
    try {
      parse_failures(spec, t, 1);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const FailureError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << spec << ": " << e.what();
    }
  }
}

TEST(Failures, ReachabilityFollowsTheUpDownRoutes) {
  const topo::FatTree t = tree_of("fat-tree:k=4,tiers=3");  // 16 hosts, 2 per leaf, 2 leaves per pod
  // Cut both uplinks of leaf 0: its hosts can still reach each other, nobody else.
  const FailureSet f = parse_failures("link:leaf0-agg0;link:leaf0-agg1", t, 1);
  std::vector<uint8_t> down(t.ports(), 0);
  for (topo::PortId p : f.ports) down[p] = 1;
  Reachability r(t, down);
  const topo::NodeId leaf0 = t.leaf_of(0), leaf1 = t.leaf_of(2);
  EXPECT_TRUE(r.reachable(leaf0, 1));
  EXPECT_FALSE(r.reachable(leaf0, 2));
  EXPECT_FALSE(r.reachable(leaf1, 0));
  EXPECT_TRUE(r.reachable(leaf1, 15));
}

// Four flows from leaf 0's hosts to leaf 1's on a 2-tier k=8 tree (4 hosts and 4 uplinks per leaf):
// healthy, AR carries them at line rate; with two of leaf 0's four uplinks down, at half of it.
TEST(Failures, HalfTheUplinksHalveTheRate) {
  const std::string spec = "fat-tree:k=8,tiers=2,speed=400G";
  std::vector<FlowSpec> flows;
  for (uint32_t i = 0; i < 4; ++i) flows.push_back(FlowSpec{i, 4 + i, kUnlimited, 0, kNoFlow});
  auto rate = [&](const std::string& fail) {
    const topo::FatTree t = tree_of(spec);
    EmuConfig cfg;
    cfg.routing = Routing::ar;
    if (!fail.empty()) cfg.failed_ports = parse_failures(fail, t, 1).ports;
    Rig rig(spec, cfg, flows);
    rig.fabric->run_until(50 * kUs);
    const uint64_t before = rig.stack->stats().payload_delivered;
    rig.fabric->run_until(250 * kUs);
    const double bits = double(rig.stack->stats().payload_delivered - before) * 8.0;
    EXPECT_EQ(rig.fabric->stats().drops, 0u) << fail;
    return bits / (4 * 400e9 * 200e-6);
  };
  const double healthy = rate("");
  const double cut = rate("link:leaf0-spine0;link:leaf0-spine1");
  std::printf("4 flows leaf0 -> leaf1: healthy %.4f of line, 2 of 4 uplinks down %.4f\n", healthy, cut);
  EXPECT_GT(healthy, 0.95);
  EXPECT_NEAR(cut, healthy / 2, 0.02);
}

// A core's link down into one pod: the aggregation switches above must stop sending that pod's traffic to
// that core (it has no other way down), so every ECMP flow still completes and nothing is unroutable.
TEST(Failures, EcmpRoutesAroundADownwardLinkItCannotSee) {
  for (const char* routing : {"ecmp", "ar", "flowlet"}) {
    ScenarioSpec s;
    s.topology = "fat-tree:k=8,tiers=3,speed=400G";
    s.traffic = "permutation:bytes=256K";
    s.routing = parse_routing(routing);
    s.failures = "link:core0-agg4;switch:core5;link:leaf9-agg9";
    s.duration = 300 * kUs;
    const Report r = run_scenario(s);
    EXPECT_EQ(r.failed_links, 10u) << routing;
    EXPECT_EQ(r.unroutable, 0u) << routing;
    EXPECT_EQ(r.drops, 0u) << routing;
    EXPECT_EQ(r.flows_completed, r.flows) << routing;
  }
}

// All of a leaf's uplinks down: its hosts' packets to other leaves have nowhere to go and are counted as
// unroutable drops, never forwarded into a dead link.
TEST(Failures, AnIsolatedLeafsTrafficIsUnroutable) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=2,speed=100G";
  s.traffic = "permutation:bytes=64K";
  s.routing = Routing::ar;
  s.failures = "link:leaf0-spine0;link:leaf0-spine1";
  s.duration = 100 * kUs;
  const Report r = run_scenario(s);
  EXPECT_GT(r.unroutable, 0u);
  EXPECT_EQ(r.drops, r.unroutable);
  EXPECT_LT(r.flows_completed, r.flows);
}

}  // namespace
}  // namespace rfab::emu
