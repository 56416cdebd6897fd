// Multi-plane fabrics in the flow-level engine: a NIC split evenly over identical planes. Closed forms for
// one flow, exact equivalence with one plane under adaptive routing, independent ECMP hashing per plane,
// what the rates are measured against, and the packet-level engine's refusal.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/flow_paths.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/traffic.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {

constexpr Picos kUs = 1'000'000;

topo::FatTree tree_of(const std::string& spec) { return topo::FatTree(topo::parse_fat_tree(spec)); }

Traffic traffic_of(std::vector<FlowSpec> flows) {
  Traffic t;
  t.flows = std::move(flows);
  return t;
}

}  // namespace

// One flow between two hosts of a leaf on two 400G planes: its bytes go at the NIC's 800G, and the
// store-and-forward at the leaf is of one frame at the plane's 400G.
TEST(MultiPlane, SingleFlowRunsAtTheNicSpeed) {
  const topo::FatTree t = tree_of("fat-tree:k=4,tiers=2,speed=800G,planes=2,latency=1us");
  EmuConfig cfg;
  const uint64_t n = 100;
  FlowEngine e(t, cfg, traffic_of({FlowSpec{0, 1, n * cfg.mtu, 0, kNoFlow}}));
  e.run_until(1000 * kUs);
  const double frame400 = double(cfg.mtu + cfg.header_bytes + cfg.framing_bytes) * 8.0 / 400e9 * 1e12;
  EXPECT_NEAR(double(e.flow_done(0)), double(n) * frame400 / 2 + frame400 + 2e6, 4.0);
  EXPECT_EQ(e.flow_delivered(0), n * cfg.mtu);
  EXPECT_EQ(e.links(), 2 * t.ports());
}

// Under adaptive routing (ideal splitting) the planes are symmetric, so N planes at N x 400G carrying B
// bytes per flow finish every flow exactly when one 400G tree carrying B/N does.
TEST(MultiPlane, AdaptiveRoutingOnTwoPlanesIsOnePlaneWithHalfTheBytes) {
  EmuConfig cfg;
  cfg.routing = Routing::ar;
  const topo::FatTree two = tree_of("fat-tree:k=8,tiers=3,speed=800G,planes=2");
  const topo::FatTree one = tree_of("fat-tree:k=8,tiers=3,speed=400G");
  const uint64_t bytes = 512 * uint64_t{cfg.mtu};
  FlowEngine a(two, cfg, traffic_of(permutation(two.hosts(), bytes, 5)));
  FlowEngine b(one, cfg, traffic_of(permutation(one.hosts(), bytes / 2, 5)));
  a.run_until(10'000 * kUs);
  b.run_until(10'000 * kUs);
  ASSERT_EQ(a.flow_count(), b.flow_count());
  for (uint32_t f = 0; f < a.flow_count(); ++f) {
    ASSERT_NE(a.flow_done(f), kNeverPs) << f;
    EXPECT_NEAR(double(a.flow_done(f)), double(b.flow_done(f)), 8.0) << "flow " << f;
  }
  EXPECT_EQ(a.links(), 2 * b.links());
}

// Under ECMP every plane's switches hash the flow afresh: plane 0 takes the single tree's path, the other
// planes mostly others, each with half the flow.
TEST(MultiPlane, EcmpHashesEachPlaneOnItsOwn) {
  EmuConfig cfg;
  cfg.seed = 9;
  const topo::FatTree two = tree_of("fat-tree:k=8,tiers=3,speed=800G,planes=2");
  const topo::FatTree one = tree_of("fat-tree:k=8,tiers=3,speed=400G");
  const FlowPaths p2(two, cfg), p1(one, cfg);
  const auto flows = permutation(two.hosts(), 1 << 20, 9);
  uint32_t differ = 0, cross_pod = 0;
  for (uint32_t f = 0; f < flows.size(); ++f) {
    std::vector<LinkShare> got, single;
    p2.path(f, flows[f].src, flows[f].dst, got);
    p1.path(f, flows[f].src, flows[f].dst, single);
    ASSERT_EQ(got.size(), 2 * single.size());
    std::vector<uint32_t> plane1;
    for (size_t i = 0; i < single.size(); ++i) {
      EXPECT_EQ(got[i].link, single[i].link);
      EXPECT_DOUBLE_EQ(got[i].share, 0.5);
      const LinkShare& q = got[single.size() + i];
      ASSERT_GE(q.link, p2.plane_links());
      EXPECT_DOUBLE_EQ(q.share, 0.5);
      plane1.push_back(q.link - p2.plane_links());
    }
    if (one.hop_count(flows[f].src, flows[f].dst) == 6) {
      ++cross_pod;
      for (size_t i = 0; i < single.size(); ++i)
        if (plane1[i] != single[i].link) {
          ++differ;
          break;
        }
    }
  }
  ASSERT_GT(cross_pod, 64u);
  // A cross-pod path has 4 up-port choices of 4 (16 paths): two independent hashes agree 1 time in 16.
  EXPECT_GT(differ, cross_pod * 3 / 4) << differ << " of " << cross_pod;
}

// Throughput is measured against the NIC's speed over all planes, and the telemetry's link records against
// every plane's port together.
TEST(MultiPlane, ThroughputIsOfTheWholeNic) {
  ScenarioSpec s;
  s.engine = "flow";
  s.topology = "fat-tree:k=8,tiers=3,speed=800G,planes=2";
  s.routing = Routing::ar;
  s.traffic = "permutation";
  s.duration = 100 * kUs;
  s.counters = true;
  const Report r = run_scenario(s);
  // Payload counts when it arrives, a few microseconds of path after it left: 100 us give ~0.92 of line.
  EXPECT_GT(r.throughput, 0.9);
  EXPECT_LE(r.throughput, r.goodput_ceiling + 1e-9);
  // A host's port record holds both planes' bytes: twice what the same host sends on one 400G tree.
  s.topology = "fat-tree:k=8,tiers=3,speed=400G";
  const Report one = run_scenario(s);
  EXPECT_NEAR(r.throughput, one.throughput, 0.01);
  for (uint32_t h : {0u, 7u, 100u})
    EXPECT_NEAR(double(r.counters.ports[h].bytes) / double(one.counters.ports[h].bytes), 2.0, 0.02) << h;
}

TEST(MultiPlane, PacketEngineRunsOnePlaneOnly) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=2,speed=800G,planes=2";
  try {
    run_scenario(s);
    ADD_FAILURE() << "the packet engine must refuse planes";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("--engine flow"), std::string::npos) << e.what();
  }
}
