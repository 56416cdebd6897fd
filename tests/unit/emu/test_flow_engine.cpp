// The flow-level engine: closed forms, its agreement with the packet-level engine's path choice, and the
// cross-validation of completion times against the packet-level engine on a 1,024-host fat-tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rig.hpp"
#include "rfab/emu/cross_validation.hpp"
#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/flow_entropy.hpp"
#include "rfab/emu/scenario.hpp"

using namespace rfab;
using namespace rfab::emu;
using rfab::emu::test::Rig;

namespace {

constexpr Picos kUs = 1'000'000;

Traffic traffic_of(std::vector<FlowSpec> flows) {
  Traffic t;
  t.flows = std::move(flows);
  return t;
}

using Comparison = CrossValidation;

// Runs `flows` through both engines to completion and compares every flow's completion time (done - 0).
Comparison compare(const std::string& topo_spec, EmuConfig cfg, const std::vector<FlowSpec>& flows, Picos horizon) {
  Comparison c = cross_validate(topo_spec, cfg, flows, horizon);
  EXPECT_EQ(c.compared, flows.size()) << "a flow did not complete in one of the engines";
  return c;
}

void print(const char* what, const Comparison& c) {
  std::printf("%s: per-flow |diff| median %.3f p90 %.3f; mean completion flow %.2f us packet %.2f us (%+.3f); "
              "step flow %.2f us packet %.2f us (%+.3f)\n",
              what, c.median_rel, c.p90_rel, c.mean_flow / 1e6, c.mean_packet / 1e6, c.mean_flow / c.mean_packet - 1,
              double(c.last_flow) / 1e6, double(c.last_packet) / 1e6, double(c.last_flow) / double(c.last_packet) - 1);
}

}  // namespace

TEST(FlowEngine, EntropyIsThePacedHostsSourcePort) {
  const std::string spec = "fat-tree:k=4,tiers=3,speed=400G";
  EmuConfig cfg;
  cfg.seed = 7;
  auto flows = permutation(16, 1 << 20, 7);
  Rig rig(spec, cfg, flows);
  for (uint32_t f = 0; f < flows.size(); ++f) EXPECT_EQ(rig.stack->flow_sport(f), flow_entropy(f, cfg.seed)) << f;
}

TEST(FlowEngine, EcmpPathIsTheTopologysHashedPath) {
  topo::FatTree t(topo::parse_fat_tree("fat-tree:k=8,tiers=3,speed=400G"));
  EmuConfig cfg;
  cfg.seed = 3;
  FlowPaths paths(t, cfg);
  auto flows = permutation(t.hosts(), 1 << 20, 3);
  for (uint32_t f = 0; f < flows.size(); ++f) {
    std::vector<LinkShare> got;
    paths.path(f, flows[f].src, flows[f].dst, got);
    topo::FlowKey key{t.host_ip(flows[f].src), t.host_ip(flows[f].dst), flow_entropy(f, cfg.seed), 4791, 17};
    std::vector<topo::PortId> want = t.ecmp_path(flows[f].src, flows[f].dst, key);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i].link, want[i]);
  }
}

// One flow through one switch: the packet-level closed form (N + 1) T + 2 L, to within a picosecond per hop.
TEST(FlowEngine, SingleFlowClosedForm) {
  topo::FatTree t(topo::parse_fat_tree("fat-tree:k=4,tiers=2,speed=400G,latency=1us"));
  EmuConfig cfg;
  const uint64_t n = 100;
  FlowEngine e(t, cfg, traffic_of({FlowSpec{0, 1, n * cfg.mtu, 0, kNoFlow}}));
  e.run_until(1000 * kUs);
  const double frame_ps = double(cfg.mtu + cfg.header_bytes + cfg.framing_bytes) * 8.0 / 400e9 * 1e12;
  EXPECT_NEAR(double(e.flow_done(0)), double(n + 1) * frame_ps + 2e6, 4.0);
  EXPECT_EQ(e.flow_delivered(0), n * cfg.mtu);
}

// Two flows share a host link, a third waits for the first: max-min halves the link, and the dependent
// flow starts when its predecessor has been received.
TEST(FlowEngine, SharedLinkAndDependency) {
  topo::FatTree t(topo::parse_fat_tree("fat-tree:k=4,tiers=2,speed=400G,latency=1us"));
  EmuConfig cfg;
  const uint64_t b = 1000 * uint64_t{cfg.mtu};
  Traffic tr = traffic_of({FlowSpec{0, 1, b, 0, kNoFlow}, FlowSpec{0, 2, b, 0, kNoFlow}, FlowSpec{1, 3, b, 0, 0}});
  FlowEngine e(t, cfg, tr);
  e.run_until(10'000 * kUs);
  const double T = double(cfg.mtu + cfg.header_bytes + cfg.framing_bytes) * 8.0 / 400e9 * 1e12;
  // Both at half rate: 2000 frames' time, then the path delay.
  EXPECT_NEAR(double(e.flow_done(0)), 2000 * T + T + 2e6, 4.0);
  EXPECT_EQ(e.flow_started(2), e.flow_done(0));
  // Hosts 1 and 3 sit on different leaves: four links, three store-and-forwards.
  EXPECT_NEAR(double(e.flow_done(2) - e.flow_started(2)), 1000 * T + 3 * T + 4e6, 4.0);
}

TEST(FlowEngine, RefusesCyclesAndWhatItDoesNotModel) {
  topo::FatTree t(topo::parse_fat_tree("fat-tree:k=4,tiers=2,speed=400G"));
  Traffic tr = traffic_of({FlowSpec{0, 1, 4096, 0, 1}, FlowSpec{1, 0, 4096, 0, 0}});
  EXPECT_THROW(FlowEngine(t, EmuConfig{}, tr), TrafficError);
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=2,speed=400G";
  s.engine = "flow";
  s.cc = "dcqcn";
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.cc = "none";
  s.pfc = false;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.pfc = true;
  s.engine = "fluid";
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  // What only the packet engine does: failed links, a warm-up, AR's view.
  s.engine = "flow";
  s.failures = "link:leaf0-spine0";
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.failures.clear();
  s.duration = 100'000'000;
  s.warmup = 10'000'000;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.warmup = 0;
  s.routing = Routing::ar;
  s.ar_view = ArView::path;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.ar_view = ArView::local;
  EXPECT_NO_THROW(run_scenario(s));
}

// Cross-validation at 1,024 hosts (k=16, 3 tiers, 400G, PFC on, no CC): permutation of 2 MB flows under
// ECMP and adaptive routing, and ring all-reduce steps. The bounds are the 5% the flow engine is held to
// where it models the same thing (ECMP, ring); what they measured is in docs/emulator.md. Per-flow times
// differ more than the mean under ECMP: PFC pauses a port for every flow through it, including ones the
// max-min share says are not bottlenecked there (head-of-line blocking), so single flows gain or lose.
void expect_within_5_percent(const Comparison& c) {
  EXPECT_LT(c.median_rel, 0.05);
  EXPECT_NEAR(c.mean_flow / c.mean_packet, 1.0, 0.05);
  EXPECT_NEAR(double(c.last_flow) / double(c.last_packet), 1.0, 0.05);
}
TEST(FlowEngine, CrossValidationPermutationEcmp) {
  EmuConfig cfg;
  cfg.seed = 1;
  const std::string spec = "fat-tree:k=16,tiers=3,speed=400G";
  topo::FatTree t(topo::parse_fat_tree(spec));
  Comparison c = compare(spec, cfg, permutation(t.hosts(), 2 << 20, cfg.seed), 2000 * kUs);
  print("ECMP permutation 2 MB", c);
  expect_within_5_percent(c);
}

TEST(FlowEngine, CrossValidationPermutationAdaptive) {
  EmuConfig cfg;
  cfg.seed = 1;
  cfg.routing = Routing::ar;
  const std::string spec = "fat-tree:k=16,tiers=3,speed=400G";
  topo::FatTree t(topo::parse_fat_tree(spec));
  Comparison c = compare(spec, cfg, permutation(t.hosts(), 2 << 20, cfg.seed), 2000 * kUs);
  print("AR permutation 2 MB", c);
  // The flow engine splits AR traffic ideally over every up-port, what per-packet AR aims at; the packet-level
  // switches choose on local queues only, cannot see the downward links, and pause (docs/emulator.md), so
  // they finish later. The fluid figure is the bound they approach, never above it.
  EXPECT_LE(c.mean_flow, c.mean_packet);
  EXPECT_LE(c.last_flow, c.last_packet);
  // Every flow gets line rate: 2 MB takes 42.8 us on the wire, plus 6.4 us over six links between pods.
  EXPECT_NEAR(double(c.last_flow) / 1e6, 49.2, 0.1);
}

TEST(FlowEngine, CrossValidationRing) {
  EmuConfig cfg;
  const std::string spec = "fat-tree:k=16,tiers=3,speed=400G";
  topo::FatTree t(topo::parse_fat_tree(spec));
  Comparison c = compare(spec, cfg, ring_allreduce(t.hosts(), 1ull << 30, 8), 5000 * kUs);
  print("ring all-reduce 1 GiB, 8 steps", c);
  expect_within_5_percent(c);
}
