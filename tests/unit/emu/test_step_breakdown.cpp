// The step-time breakdown (step_breakdown.cpp): the critical path through a step's flows, by phase. Checked
// against the GPipe closed form, against a hand-built chain, and for the invariant that the path's phases
// and waiting add up to the step time.
#include <gtest/gtest.h>

#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/step_breakdown.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {

topo::FatTree tree16(const char* extra = "") {
  return topo::FatTree(topo::parse_fat_tree(std::string("fat-tree:k=4,tiers=3,speed=400G") + extra));
}

StepBreakdown run_breakdown(const topo::FatTree& t, const Traffic& tr) {
  FlowEngine e(t, EmuConfig{}, tr);
  e.run_until(Picos(1) << 45);
  std::vector<Picos> started(tr.flows.size()), done(tr.flows.size());
  for (uint32_t f = 0; f < tr.flows.size(); ++f) {
    started[f] = e.flow_started(f);
    done[f] = e.flow_done(f);
  }
  return step_breakdown(tr, started, done);
}

Picos sum_critical(const StepBreakdown& b) {
  Picos s = b.waiting;
  for (const PhaseTime& p : b.phases) s += p.critical;
  return s;
}

const PhaseTime* find(const StepBreakdown& b, const std::string& name) {
  for (const PhaseTime& p : b.phases)
    if (p.phase == name) return &p;
  return nullptr;
}

}  // namespace

// GPipe with P stages and M microbatches: the critical path is 2 (P + M - 2) hops, half forward and half
// backward, every one a fabric transfer, with nothing waiting in between.
TEST(StepBreakdown, PipelineCriticalPathIsGpipesHops) {
  const topo::FatTree t = tree16();
  const uint32_t P = t.hosts(), M = 4;
  const Traffic tr = step_traffic(parse_step("step:train=gpipe,pp=16,microbatches=4,act=64M"), t);
  const StepBreakdown b = run_breakdown(t, tr);
  ASSERT_EQ(b.phases.size(), 2u);
  const PhaseTime* fwd = find(b, "pipeline forward (fabric)");
  const PhaseTime* bwd = find(b, "pipeline backward (fabric)");
  ASSERT_TRUE(fwd && bwd);
  EXPECT_EQ(fwd->critical_flows + bwd->critical_flows, 2 * (P + M - 2));
  EXPECT_EQ(fwd->critical_flows, P + M - 2);
  EXPECT_EQ(fwd->flows, uint64_t(P - 1) * M);
  EXPECT_EQ(fwd->bytes, uint64_t(P - 1) * M * (64u << 20));
  EXPECT_EQ(b.waiting, 0u);
  EXPECT_EQ(sum_critical(b), b.step);
  EXPECT_NEAR(double(fwd->critical), double(bwd->critical), 0.01 * double(bwd->critical));
}

// The hierarchical allreduce splits into NVLink transfers (reduce into the server's first GPU, broadcast)
// and the leaders' fabric allreduce; with 4 GPUs a server (8 servers of 4 rails) both are on the path, and
// the parts add up.
TEST(StepBreakdown, HierarchicalAllreduceSplitsNvlinkAndFabric) {
  const topo::FatTree t(topo::parse_fat_tree("fat-tree:k=8,tiers=2,speed=400G,rails=4"));
  const Traffic tr = step_traffic(parse_step("step:allreduce=hier,bytes=64M,gpus-per-server=4"), t);
  const StepBreakdown b = run_breakdown(t, tr);
  const PhaseTime* nv = find(b, "allreduce hier (NVLink)");
  const PhaseTime* fab = find(b, "allreduce hier (fabric)");
  ASSERT_TRUE(nv && fab);
  EXPECT_GT(nv->critical, 0u);
  EXPECT_GT(fab->critical, nv->critical);  // 400G NICs against 3.6T NVLink
  EXPECT_EQ(sum_critical(b), b.step);
  EXPECT_EQ(nv->flows + fab->flows, tr.flows.size());
}

// A whole step with every kind of phase: the path's parts add up to the step, every phase's flows are
// counted once, and no phase's path time exceeds its span.
TEST(StepBreakdown, TrainingStepPartsAddUpToTheStep) {
  const topo::FatTree t = tree16(",rails=2");
  const Traffic tr = step_traffic(
      parse_step("step:train=gpipe,tp=2,pp=2,ep=2,microbatches=2,grad=64M,act=4M,moe=8M,tp-bytes=4M,gpus-per-server=2"), t);
  const StepBreakdown b = run_breakdown(t, tr);
  ASSERT_FALSE(b.phases.empty());
  uint64_t flows = 0;
  for (const PhaseTime& p : b.phases) {
    flows += p.flows;
    EXPECT_LE(p.critical, p.last_done - p.first_start) << p.phase;
  }
  EXPECT_EQ(flows, tr.flows.size());
  EXPECT_EQ(sum_critical(b), b.step);
  for (const char* name : {"pipeline forward (fabric)", "tensor-parallel allreduce (NVLink)", "expert all-to-all (fabric)",
                           "data-parallel allreduce (fabric)"})
    EXPECT_TRUE(find(b, name)) << name;
  EXPECT_TRUE(find(b, "data-parallel allreduce (fabric)")->critical > 0);
}

// A hand-built chain: flow 1 waits for flow 0 and starts 5 us late (its start delay); flow 2 runs beside
// them, off the path.
TEST(StepBreakdown, ChainWithStartDelayCountsTheWait) {
  Traffic tr;
  tr.flows = {FlowSpec{0, 1, 1000, 0, kNoFlow}, FlowSpec{1, 2, 1000, 5'000'000, 0}, FlowSpec{2, 3, 10, 0, kNoFlow}};
  tr.phase = {0, 1, 1};
  tr.phase_names = {"a", "b"};
  const std::vector<Picos> started = {0, 7'000'000, 0}, done = {2'000'000, 9'000'000, 1'000'000};
  const StepBreakdown b = step_breakdown(tr, started, done);
  EXPECT_EQ(b.step, 9'000'000u);
  EXPECT_EQ(b.waiting, 5'000'000u);
  ASSERT_EQ(b.phases.size(), 2u);
  EXPECT_EQ(b.phases[0].phase, "a (fabric)");
  EXPECT_EQ(b.phases[0].critical, 2'000'000u);
  EXPECT_EQ(b.phases[1].critical, 2'000'000u);
  EXPECT_EQ(b.phases[1].flows, 2u);
  EXPECT_EQ(b.phases[1].critical_flows, 1u);
  // A flow not done: no breakdown (the step has no time).
  EXPECT_TRUE(step_breakdown(tr, started, {2'000'000, kNeverPs, 1'000'000}).phases.empty());
}
