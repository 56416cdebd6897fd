// The rc/ queue-pair engine running on emulated hosts: RDMA WRITEs through the fabric, ACKs back, go-back-N
// recovering what lossy buffers drop on single-path ECMP, and selective recovery placing what multipath
// routing (switch AR, flowlets, NIC spraying) reorders.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "rfab/congestion/factory.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/rc_stack.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {
constexpr Picos kUs = 1'000'000;
ControllerFactory line_rate() {
  return [](double bps) { return cc::make_controller("none", bps); };
}
}  // namespace

// One WRITE stream through one switch: every byte is placed once, and the requester's completion comes one
// ACK round trip after the store-and-forward bound (N + 1) T + 2 L of the last data packet.
TEST(RcStack, SingleFlowCompletesAtLineRate) {
  topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4,tiers=2,latency=1us"));
  EmuConfig cfg;
  const uint64_t packets = 1000, bytes = packets * cfg.mtu;
  RcHostStack stack(tree, cfg, {FlowSpec{0, 1, bytes, 0, kNoFlow}}, line_rate(), 0);
  Fabric fabric(tree, cfg, stack);
  fabric.run_until(10'000 * kUs);
  ASSERT_EQ(stack.stats().flows_completed, 1u);
  EXPECT_EQ(stack.flow_delivered(0), bytes);
  EXPECT_EQ(stack.retransmits(), 0u);
  const Picos T = 83'560;  // 4178-byte frame at 400G (the first packet's RETH adds 320 ps)
  const Picos data_done = (packets + 1) * T + 2 * kUs;
  EXPECT_GT(stack.flow_done(0), data_done + 2 * kUs);  // + the ACK's way back
  EXPECT_LT(stack.flow_done(0), data_done + 2 * kUs + 200'000);
}

// An 8-to-1 incast of 512 KiB flows with PFC off and 256 KiB switch buffers: the fabric drops.
EmuConfig lossy_incast_config(Routing routing) {
  EmuConfig cfg;
  cfg.routing = routing;
  cfg.pfc.enabled = false;
  cfg.switch_buffer_bytes = 256 * 1024;
  return cfg;
}

// Lossy incast with small buffers: the fabric drops, the engine's go-back-N resends, every flow completes.
TEST(RcStack, GoBackNRecoversLossyIncast) {
  topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=8,tiers=3"));
  const EmuConfig cfg = lossy_incast_config(Routing::ecmp);
  RcHostStack stack(tree, cfg, incast(tree, 8, 0, 512 * 1024), line_rate(), 0);
  Fabric fabric(tree, cfg, stack);
  fabric.run_until(100'000 * kUs);
  EXPECT_GT(fabric.stats().drops, 0u);
  EXPECT_GT(stack.retransmits(), 0u);
  const FlowStack& flows = stack;  // what the scenario runner reads
  EXPECT_EQ(flows.retransmits(), stack.retransmits());
  EXPECT_EQ(stack.stats().flows_completed, 8u);
  for (uint32_t f = 0; f < 8; ++f) EXPECT_EQ(stack.flow_delivered(f), 512u * 1024u);
  // ECMP keeps one path per flow: the QPs speak IBTA go-back-N, as RNICs do.
  EXPECT_FALSE(stack.selective_recovery());
  EXPECT_EQ(stack.recovery_stats().selective_resends, 0u);
  EXPECT_GT(stack.recovery_stats().seq_naks_sent, 0u);
}

// A multipath fabric reorders the packets of a flow; with PFC it drops none. Every reordered packet must be
// held and placed by the responder: no sequence NAK, no resend, no timeout.
struct Multipath {
  const char* name;
  Routing routing;
  uint16_t spray;
  bool adaptive = false;
};
class RcMultipath : public ::testing::TestWithParam<Multipath> {};

TEST_P(RcMultipath, ReorderingIsPlacedWithoutRetransmissions) {
  topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4,tiers=3"));
  EmuConfig cfg;
  cfg.routing = GetParam().routing;
  cfg.spray_paths = GetParam().spray;
  cfg.spray_adaptive = GetParam().adaptive;
  cfg.seed = 3;
  const uint64_t bytes = 8 << 20;
  RcHostStack stack(tree, cfg, permutation(tree.hosts(), bytes, cfg.seed), line_rate(), 0);
  Fabric fabric(tree, cfg, stack);
  fabric.run_until(20'000 * kUs);
  ASSERT_TRUE(stack.selective_recovery());
  EXPECT_EQ(fabric.stats().drops, 0u);
  EXPECT_EQ(stack.stats().flows_completed, stack.flow_count());
  for (uint32_t f = 0; f < stack.flow_count(); ++f) EXPECT_EQ(stack.flow_delivered(f), bytes);
  const RcHostStack::RecoveryStats r = stack.recovery_stats();
  std::printf("%s: %llu packets arrived ahead of a hole and were placed\n", GetParam().name,
              (unsigned long long)r.out_of_order);
  EXPECT_GT(r.out_of_order, 0u);  // the fabric did reorder: the zeros below are not vacuous
  EXPECT_EQ(r.retransmits, 0u);
  EXPECT_EQ(stack.retransmits(), 0u);
  EXPECT_EQ(r.selective_resends, 0u);
  EXPECT_EQ(r.seq_naks_sent, 0u);
  EXPECT_EQ(r.seq_naks_received, 0u);
  EXPECT_EQ(r.timeouts, 0u);
}

INSTANTIATE_TEST_SUITE_P(Routing, RcMultipath,
                         ::testing::Values(Multipath{"ar", Routing::ar, 0}, Multipath{"flowlet", Routing::flowlet, 0},
                                           Multipath{"spray", Routing::ecmp, 8},
                                           Multipath{"adaptive_spray", Routing::ecmp, 8, true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// Lossy multipath: selective recovery resends the dropped packets alone and every flow still completes.
TEST(RcStack, SelectiveRecoveryRecoversLossyAdaptiveIncast) {
  topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=8,tiers=3"));
  const EmuConfig cfg = lossy_incast_config(Routing::ar);
  RcHostStack stack(tree, cfg, incast(tree, 8, 0, 512 * 1024), line_rate(), 0);
  Fabric fabric(tree, cfg, stack);
  fabric.run_until(100'000 * kUs);
  EXPECT_GT(fabric.stats().drops, 0u);
  EXPECT_GT(stack.recovery_stats().selective_resends, 0u);
  EXPECT_EQ(stack.stats().flows_completed, 8u);
  for (uint32_t f = 0; f < 8; ++f) EXPECT_EQ(stack.flow_delivered(f), 512u * 1024u);
}

TEST(RcStack, ScenarioRunsDcqcnWithAdaptiveRouting) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=8,tiers=3";
  s.traffic = "permutation:bytes=512K";
  s.cc = "dcqcn";
  s.routing = Routing::ar;  // sprayed packets arrive out of order: the responder's reorder window places them
  s.hosts = "rc";
  s.duration = 2000 * kUs;
  Report r = run_scenario(s);
  EXPECT_EQ(r.flows_completed, r.flows);
  EXPECT_EQ(r.payload_delivered, r.flows * 512u * 1024u);
  EXPECT_EQ(r.drops, 0u);
  EXPECT_EQ(r.retransmits, 0u);
}

TEST(RcStack, ScenarioSpraysFromTheNic) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=3";
  s.traffic = "permutation:bytes=1M";
  s.hosts = "rc";
  s.spray = 4;
  s.duration = 2000 * kUs;
  Report r = run_scenario(s);
  EXPECT_EQ(r.flows_completed, r.flows);
  EXPECT_EQ(r.retransmits, 0u);
  s.spray = kMaxSprayPaths + 1;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
}

// The NIC's adaptive spray on the permutation that ECMP handles worst: with DCQCN on, moving traffic off
// the ports that draw CNPs (and cutting the rate only when most of them do) beats the plain spray, which
// answers every CNP with a rate cut. Measured 0.697 against 0.544 (bench/results/2026-12-06-adaptive-paths.md).
TEST(RcStack, AdaptiveSprayBeatsPlainSprayUnderDcqcn) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=8,tiers=3,speed=400G";
  s.traffic = "permutation";
  s.cc = "dcqcn";
  s.hosts = "rc";
  s.spray = 8;
  s.seed = 3;
  s.duration = 300 * kUs;
  const Report plain = run_scenario(s);
  s.adaptive = true;
  const Report adaptive = run_scenario(s);
  std::printf("permutation k=8, DCQCN: spray 8 %.3f (%llu PFC pauses), adaptive spray 8 %.3f (%llu)\n", plain.throughput,
              (unsigned long long)plain.pfc_pauses, adaptive.throughput, (unsigned long long)adaptive.pfc_pauses);
  EXPECT_GT(adaptive.throughput, plain.throughput + 0.1);
  EXPECT_EQ(adaptive.drops, 0u);
  EXPECT_EQ(adaptive.retransmits, 0u);
}

TEST(RcStack, AdaptiveNeedsASprayAndRcHosts) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=3";
  s.traffic = "permutation:bytes=64K";
  s.hosts = "rc";
  s.adaptive = true;
  s.duration = 100 * kUs;
  s.spray = 1;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.spray = 4;
  s.hosts = "paced";
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
  s.hosts = "rc";
  EXPECT_NO_THROW(run_scenario(s));
}

TEST(RcStack, ScenarioReportsRetransmitsOfLossyRuns) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=8,tiers=3";
  s.traffic = "incast:n=8,bytes=512K";
  s.hosts = "rc";
  s.pfc = false;
  s.buffer_bytes = 256 * 1024;
  s.duration = 20'000 * kUs;
  Report r = run_scenario(s);
  EXPECT_GT(r.drops, 0u);
  EXPECT_GT(r.retransmits, 0u);
  EXPECT_EQ(r.flows_completed, r.flows);
  s.hosts = "paced";
  EXPECT_EQ(run_scenario(s).retransmits, 0u);
}

TEST(RcStack, RefusesAFlowWaitingForAMissingFlow) {
  topo::FatTree tree(topo::parse_fat_tree("fat-tree:k=4,tiers=2"));
  EXPECT_THROW(RcHostStack(tree, EmuConfig{}, {FlowSpec{0, 1, 4096, 0, 3}}, line_rate(), 0), TrafficError);
}
