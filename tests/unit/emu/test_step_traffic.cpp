// Training-step traffic recorded from the collective library's own algorithms (step_traffic.hpp).
#include <gtest/gtest.h>

#include <map>

#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {

topo::FatTree tree16() { return topo::FatTree(topo::parse_fat_tree("fat-tree:k=4,tiers=3,speed=400G")); }

size_t deps_of(const Traffic& t, size_t f) { return t.has_extra_deps() ? t.dep_first[f + 1] - t.dep_first[f] : 0; }

}  // namespace

// The library's ring allreduce on H ranks: every rank sends 2(H-1) blocks of bytes/H to its successor
// (the closed form), the same flows as the emulator's own ring pattern, and each block after the first
// waits for the block the rank received in the step before.
TEST(StepTraffic, RingAllreduceIsTwoHMinusOneStepsOfBytesOverH) {
  const topo::FatTree t = tree16();
  const uint32_t H = t.hosts();
  const uint64_t bytes = 64ull << 20;
  Traffic tr = step_traffic(parse_step("step:allreduce=ring,bytes=64M"), t);
  ASSERT_EQ(tr.flows.size(), size_t(H) * 2 * (H - 1));
  std::map<uint32_t, uint32_t> sends;
  for (const FlowSpec& f : tr.flows) {
    EXPECT_EQ(f.dst, (f.src + 1) % H);
    EXPECT_EQ(f.bytes, bytes / H);
    ++sends[f.src];
  }
  for (uint32_t h = 0; h < H; ++h) EXPECT_EQ(sends[h], 2 * (H - 1));
  // Rank r's flows are numbered in its schedule order: its first send waits for nothing, each later one
  // for the receive it forwards (from r - 1, one step earlier) and its own previous send.
  std::vector<FlowSpec> ring = ring_allreduce(H, bytes, 0);
  for (uint32_t r = 0; r < H; ++r) {
    for (uint32_t s = 0; s < 2 * (H - 1); ++s) {
      const size_t f = size_t(r) * 2 * (H - 1) + s;
      EXPECT_EQ(tr.flows[f].src, ring[size_t(s) * H + r].src);
      EXPECT_EQ(tr.flows[f].bytes, ring[size_t(s) * H + r].bytes);
      if (s == 0) {
        EXPECT_EQ(deps_of(tr, f), 0u);
        continue;
      }
      ASSERT_EQ(deps_of(tr, f), 2u) << "flow " << f;
      const uint32_t gate = tr.deps[tr.dep_first[f]], prev = tr.deps[tr.dep_first[f] + 1];
      EXPECT_EQ(tr.flows[gate].dst, r);  // received from r - 1 ...
      EXPECT_EQ(gate, ((r + H - 1) % H) * 2 * (H - 1) + s - 1);  // ... in the step before
      EXPECT_EQ(prev, f - 1);
    }
  }
  // Run through the flow engine: every block completes, in 2(H-1) dependent rounds.
  FlowEngine e(t, EmuConfig{}, tr);
  e.run_until(Picos(1) << 40);
  EXPECT_EQ(e.stats().flows_completed, tr.flows.size());
}

// Hierarchical allreduce with two GPUs a server: the reduce and broadcast inside each server stay on
// NVLink (local flows), and only the servers' first GPUs run the ring over the fabric.
TEST(StepTraffic, HierarchicalKeepsServerTrafficOnNvlink) {
  const topo::FatTree t = tree16();
  const uint32_t servers = t.hosts();
  Traffic tr = step_traffic(parse_step("step:allreduce=hier,bytes=1M,gpus-per-server=2"), t);
  size_t local = 0, fabric = 0;
  for (size_t f = 0; f < tr.flows.size(); ++f) {
    if (tr.is_local(f)) {
      ++local;
      EXPECT_EQ(tr.flows[f].src, tr.flows[f].dst);  // both GPUs sit behind the server's one NIC
      EXPECT_EQ(tr.flows[f].bytes, 1u << 20);
    } else {
      ++fabric;
      EXPECT_EQ(tr.flows[f].bytes, (1u << 20) / servers);
    }
  }
  EXPECT_EQ(local, 2 * servers);                       // one reduce and one broadcast transfer a server
  EXPECT_EQ(fabric, size_t(servers) * 2 * (servers - 1));  // the leaders' ring
  FlowEngine e(t, EmuConfig{}, tr);
  e.run_until(Picos(1) << 40);
  EXPECT_EQ(e.stats().flows_completed, tr.flows.size());
}

TEST(StepTraffic, AlltoallPairwiseSendsABlockToEveryRank) {
  const topo::FatTree t = tree16();
  const uint32_t H = t.hosts();
  Traffic tr = step_traffic(parse_step("step:alltoall=pairwise,bytes=1M"), t);
  ASSERT_EQ(tr.flows.size(), size_t(H) * (H - 1));
  std::map<std::pair<uint32_t, uint32_t>, int> pairs;
  for (const FlowSpec& f : tr.flows) {
    EXPECT_EQ(f.bytes, (1u << 20) / H);
    ++pairs[{f.src, f.dst}];
  }
  EXPECT_EQ(pairs.size(), size_t(H) * (H - 1));
}

TEST(StepTraffic, RecursiveHalvingDoublingHalvesThenDoubles) {
  const topo::FatTree t = tree16();  // 16 ranks: a power of two, no folding
  RecordedSchedule s = record_step(parse_step("step:allreduce=rhd,bytes=64K"), t.hosts(), 1);
  // log2(16) = 4 halving and 4 doubling exchanges a rank, each one send and one receive.
  EXPECT_EQ(s.exchange_rank.size(), size_t(16) * 8);
  std::vector<size_t> sizes;
  for (size_t e = 0; e < 8; ++e) sizes.push_back(s.ops[s.exchange_first[e]].bytes);
  EXPECT_EQ(sizes, (std::vector<size_t>{32768, 16384, 8192, 4096, 4096, 8192, 16384, 32768}));
}

TEST(StepTraffic, BadSpecsAreRefused) {
  const topo::FatTree t = tree16();
  for (const char* spec : {"step:allreduce=ring", "step:allreduce=ring,bytes=3", "step:allreduce=spiral,bytes=1M",
                           "step:alltoall=bruck,bytes=1M", "step:allreduce=ring,alltoall=pairwise,bytes=1M",
                           "step:allreduce=ring,bytes=1M,inter=rhd", "step:allreduce=ring,bytes=1M,colour=red",
                           "step:allreduce=hier,bytes=1M,gpus-per-server=0"})
    EXPECT_THROW(step_traffic(parse_step(spec), t), TrafficError) << spec;
  // More transfers than the flow limit: a flat ring over many ranks.
  EXPECT_THROW(record_step(parse_step("step:allreduce=ring,bytes=1G"), 4000, 1), TrafficError);
}
