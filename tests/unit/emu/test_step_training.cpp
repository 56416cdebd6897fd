// A training step laid out over tensor, pipeline, data and expert parallelism (step_training.cpp): the
// flows are the library's, each group sits where the layout puts it, and a pure pipeline runs in the
// GPipe closed form.
#include <gtest/gtest.h>

#include <map>

#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {

topo::FatTree tree16() { return topo::FatTree(topo::parse_fat_tree("fat-tree:k=4,tiers=3,speed=400G")); }

// Every flow done; returns the time the last one finished.
Picos run_all(const topo::FatTree& t, const Traffic& tr) {
  FlowEngine e(t, EmuConfig{}, tr);
  e.run_until(Picos(1) << 45);
  EXPECT_EQ(e.stats().flows_completed, tr.flows.size());
  Picos last = 0;
  for (size_t f = 0; f < tr.flows.size(); ++f) last = std::max(last, e.flow_done(uint32_t(f)));
  return last;
}

}  // namespace

// Data parallelism alone is the library's allreduce over every rank: the same flows, in the same order,
// as step:allreduce with grad as the bytes.
TEST(StepTraining, DataParallelAloneIsTheAllreduceStep) {
  const topo::FatTree t = tree16();
  for (const char* algo : {"ring", "rhd", "tree"}) {
    const Traffic train = step_traffic(parse_step(std::string("step:train=gpipe,grad=64M,dp=") + algo), t);
    const Traffic ar = step_traffic(parse_step(std::string("step:allreduce=") + algo + ",bytes=64M"), t);
    ASSERT_EQ(train.flows.size(), ar.flows.size()) << algo;
    for (size_t f = 0; f < ar.flows.size(); ++f) {
      EXPECT_EQ(train.flows[f].src, ar.flows[f].src) << algo << " flow " << f;
      EXPECT_EQ(train.flows[f].dst, ar.flows[f].dst) << algo << " flow " << f;
      EXPECT_EQ(train.flows[f].bytes, ar.flows[f].bytes) << algo << " flow " << f;
    }
    EXPECT_EQ(train.deps, ar.deps) << algo;
  }
}

// A pipeline of P stages and M microbatches of A bytes, nothing else: GPipe's forward pass fills the
// pipeline in P - 1 + M - 1 transfer times after the first, the backward pass the same, so the step is
// 2 (P + M - 2) transfers of A bytes end to end (one stage per host, every hop on its own links).
TEST(StepTraining, PipelineAloneIsTheGpipeClosedForm) {
  const topo::FatTree t = tree16();
  const uint32_t P = t.hosts(), M = 4;
  const Traffic tr = step_traffic(parse_step("step:train=gpipe,pp=16,microbatches=4,act=64M"), t);
  ASSERT_EQ(tr.flows.size(), size_t(2) * (P - 1) * M);
  for (const FlowSpec& f : tr.flows) {
    EXPECT_EQ(f.bytes, 64u << 20);
    EXPECT_EQ(f.src > f.dst ? f.src - f.dst : f.dst - f.src, 1u) << f.src << " -> " << f.dst;
  }
  Traffic one;
  one.flows.push_back(FlowSpec{0, 1, 64u << 20, 0, kNoFlow});
  const double hop = double(run_all(t, one));
  const double step = double(run_all(t, tr));
  EXPECT_NEAR(step / hop, 2.0 * (P + M - 2), 0.01 * 2 * (P + M - 2)) << "step " << step << " ps, one hop " << hop;
}

// 32 GPUs (2 a server), tp=2, pp=2, ep=2, so dp=8: tensor-parallel rings stay inside a server on NVLink;
// pipeline transfers join the same (d, t) of the two stages; expert all-to-alls stay inside pairs of
// data-parallel ranks; the gradient rings run over the 8 data-parallel ranks of each (stage, t).
TEST(StepTraining, EachGroupSitsWhereTheLayoutPutsIt) {
  const topo::FatTree t = tree16();  // 16 servers
  const Traffic tr = step_traffic(parse_step("step:train=gpipe,tp=2,pp=2,ep=2,microbatches=2,act=1M,moe=64K,"
                                             "tp-bytes=256K,grad=8M,gpus-per-server=2"),
                                  t);
  // NIC n is server n; rank r = (stage x 8 + d) x 2 + t sits on server r / 2 = stage x 8 + d.
  std::map<uint64_t, size_t> by_size;
  for (size_t f = 0; f < tr.flows.size(); ++f) {
    const FlowSpec& s = tr.flows[f];
    ++by_size[s.bytes];
    if (s.bytes == 128u << 10) {  // tensor-parallel ring: 256 KiB in 2 blocks
      EXPECT_TRUE(tr.is_local(f));
      EXPECT_EQ(s.src, s.dst);
    } else if (s.bytes == 1u << 20) {  // pipeline: same d, the other stage
      EXPECT_FALSE(tr.is_local(f));
      EXPECT_EQ(s.src % 8, s.dst % 8);
      EXPECT_NE(s.src / 8, s.dst / 8);
    } else if (s.bytes == 32u << 10) {  // expert all-to-all: 64 KiB over 2 experts, within d pairs
      EXPECT_EQ(s.src / 2, s.dst / 2);
      EXPECT_NE(s.src, s.dst);
    } else if (s.bytes == 256u << 10) {  // gradients: 8 MiB / (tp x pp) = 2 MiB in 8 ring blocks, same stage
      EXPECT_EQ(s.src / 8, s.dst / 8);
    } else {
      ADD_FAILURE() << "unexpected flow of " << s.bytes << " bytes";
    }
  }
  const size_t mb = 2, dp = 8, tp = 2, pp = 2, ep = 2;
  EXPECT_EQ(by_size[1u << 20], dp * tp * (pp - 1) * mb * 2);                // forward and backward
  EXPECT_EQ(by_size[128u << 10], pp * dp * tp * 2 * (tp - 1) * mb * 2);     // a ring per microbatch and pass
  EXPECT_EQ(by_size[32u << 10], pp * dp * tp * (ep - 1) * 2 * mb * 2);      // dispatch + combine per pass
  EXPECT_EQ(by_size[256u << 10], pp * tp * dp * 2 * (dp - 1));              // one ring per (stage, t)
  run_all(t, tr);
}

TEST(StepTraining, BadLayoutsAreRefusedNamingTheProblem) {
  const topo::FatTree t = tree16();
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c : {Case{"step:train=gpipe,pp=3,act=1M", "does not divide"},
                        Case{"step:train=gpipe,pp=2,ep=3,moe=1M", "ep=3 does not divide"},
                        Case{"step:train=1f1b,act=1M", "not gpipe"},
                        Case{"step:train=gpipe,pp=2", "needs at least one of"},
                        Case{"step:train=gpipe,pp=2,act=3", "multiple of 4"},
                        Case{"step:train=gpipe,grad=1M,bytes=1M", "not bytes="},
                        Case{"step:train=gpipe,grad=1M,dp=hier", "dp='hier'"},
                        Case{"step:train=gpipe,tp=32,tp-bytes=1M", "does not divide"},
                        Case{"step:train=gpipe,tp=16,grad=1M", "moves nothing"},
                        Case{"step:train=gpipe,act=1M,colour=red", "unknown key 'colour'"}}) {
    try {
      step_traffic(parse_step(c.spec), t);
      ADD_FAILURE() << c.spec << " was accepted";
    } catch (const TrafficError& e) {
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << c.spec << ": " << e.what();
    }
  }
}
