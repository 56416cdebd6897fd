// Path-covering NIC spraying: entropies picked one per distinct ECMP path. The walk is the topology's own
// ECMP path, the ports found are on distinct paths and as many as the pair has, and on long-flow
// permutation the spray reaches line rate where hashed entropies collide, with congestion control on as a
// production fabric runs it.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "rfab/emu/config.hpp"
#include "rfab/emu/flow_engine.hpp"
#include "reach_common.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/spray_cover.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {
namespace {

constexpr Picos kUs = 1'000'000;

using test::kProductionCc;
using test::kSanitized;

topo::FatTree tree_of(const char* spec) { return topo::FatTree(topo::parse_fat_tree(spec)); }

std::vector<topo::PortId> walk(const topo::FatTree& t, uint32_t src, uint32_t dst, uint16_t sport) {
  std::vector<topo::PortId> out;
  ecmp_walk(t, src, dst, sport, out);
  return out;
}

}  // namespace

TEST(SprayCover, WalkIsTheTopologysEcmpPath) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3,speed=400G");
  for (uint32_t src : {0u, 5u, 77u})
    for (uint32_t dst : {1u, 9u, 100u, 127u})
      for (uint16_t sport : {uint16_t(0xC000), uint16_t(0xC123), uint16_t(0xFFFF)}) {
        if (src == dst) continue;
        const topo::FlowKey key{t.host_ip(src), t.host_ip(dst), sport, 4791, 17};
        EXPECT_EQ(walk(t, src, dst, sport), t.ecmp_path(src, dst, key)) << src << "->" << dst;
      }
}

// As many ports as the pair has paths (up to n), each on a path of its own, all from the spray_port family.
TEST(SprayCover, PortsCoverDistinctPaths) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3,speed=400G");  // 4 up-ports per leaf and per agg
  auto check = [&](uint32_t src, uint32_t dst, uint32_t n, size_t expect) {
    const uint16_t base = 0xC777;
    const std::vector<uint16_t> ports = covering_ports(t, src, dst, base, n);
    EXPECT_EQ(ports.size(), expect) << src << "->" << dst << " n=" << n;
    std::set<std::vector<topo::PortId>> paths;
    std::set<uint16_t> family;
    for (uint32_t i = 0; i < 16384; ++i) family.insert(spray_port(base, i));
    for (uint16_t p : ports) {
      EXPECT_TRUE(paths.insert(walk(t, src, dst, p)).second) << "two ports on one path";
      EXPECT_TRUE(family.count(p));
    }
  };
  check(0, 1, 8, 1);      // one leaf: one path
  check(0, 4, 8, 4);      // one pod, two leaves: a leaf's 4 up-ports
  check(0, 100, 64, 16);  // across pods: 4 x 4
  check(0, 100, 8, 8);
  // Hashed entropies collide: 16 of them reach fewer than 16 of the 16 paths.
  std::set<std::vector<topo::PortId>> hashed;
  for (uint32_t i = 0; i < 16; ++i) hashed.insert(walk(t, 0, 100, spray_port(0xC777, i)));
  EXPECT_LT(hashed.size(), 16u);
}

// In the flow engine a covering spray over every path is the ideal split adaptive routing is modelled as.
TEST(SprayCover, FlowEngineCoveringSprayIsTheIdealSplit) {
  const topo::FatTree t = tree_of("fat-tree:k=8,tiers=3,speed=400G");
  EmuConfig spray, ar;
  spray.spray_paths = 16;
  spray.spray_cover = true;
  ar.routing = Routing::ar;
  Traffic tr;
  tr.flows = permutation(t.hosts(), 2 << 20, 4);
  FlowEngine a(t, spray, tr), b(t, ar, tr);
  a.run_until(10'000 * kUs);
  b.run_until(10'000 * kUs);
  for (uint32_t f = 0; f < a.flow_count(); ++f) EXPECT_NEAR(double(a.flow_done(f)), double(b.flow_done(f)), 8.0) << f;
}

TEST(SprayCover, RefusedWhereItHasNoMeaning) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=3,speed=400G";
  s.duration = 10 * kUs;
  s.spray_cover = true;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);  // no --spray
  s.spray = 4;
  s.hosts = "rc";
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.hosts = "paced";
  EXPECT_NO_THROW(run_scenario(s));
}

// Long-flow permutation at k=16 (1,024 hosts), PFC on, the ConnectX DCQCN defaults and the switches' RoCE
// ECN profile, throughput after a warm-up: one entropy per path keeps every queue under the marking
// threshold, hashed entropies do not.
TEST(SprayCover, CoveringSprayReachesLineRateWithProductionDcqcn) {
  ScenarioSpec s;
  s.topology = kSanitized ? "fat-tree:k=8,tiers=3,speed=400G" : "fat-tree:k=16,tiers=3,speed=400G";
  s.traffic = "permutation";
  s.cc = kProductionCc;
  s.spray = kSanitized ? 16 : 64;
  s.seed = 2;
  s.warmup = 100 * kUs;
  s.duration = kSanitized ? 250 * kUs : 400 * kUs;
  s.spray_cover = true;
  const Report cover = run_scenario(s);
  s.spray_cover = false;
  const Report hashed = run_scenario(s);
  std::printf("%s: covering spray %.4f of line (ceiling %.4f, PFC pauses %llu, CNPs %llu, max queue %.0f KiB); "
              "hashed %.4f (PFC pauses %llu, CNPs %llu)\n",
              cover.topology.c_str(), cover.throughput, cover.goodput_ceiling, (unsigned long long)cover.pfc_pauses,
              (unsigned long long)cover.cnps, double(cover.max_queue_bytes) / 1024.0, hashed.throughput,
              (unsigned long long)hashed.pfc_pauses, (unsigned long long)hashed.cnps);
  EXPECT_GE(cover.throughput, 0.95);
  // Payload delivered in the window includes packets in flight at its start: up to a few 1e-4 above the ceiling.
  EXPECT_LE(cover.throughput, cover.goodput_ceiling + 0.001);
  EXPECT_EQ(cover.drops, 0u);
  EXPECT_EQ(cover.cnps, 0u);
  EXPECT_LT(hashed.throughput, cover.throughput);
}

}  // namespace rfab::emu
