// A fabric split into parts (partition.hpp) must give the single-queue run's results exactly, for any number
// of parts: every counter, every flow's completion, every per-port and per-flow record.
#include <gtest/gtest.h>

#include <string>

#include "rfab/emu/partition.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab::emu;

namespace {

ScenarioSpec k8(const std::string& routing_cc_pfc) {
  ScenarioSpec s;
  s.topology = "fat-tree:k=8,tiers=3,speed=100G";
  s.traffic = "permutation:bytes=256K";
  s.duration = 60'000'000;  // 60 us
  s.warmup = 5'000'000;
  s.counters = true;
  if (routing_cc_pfc.find("dcqcn") != std::string::npos) s.cc = "dcqcn";
  if (routing_cc_pfc.find("ar") != std::string::npos) s.routing = Routing::ar;
  if (routing_cc_pfc.find("lossy") != std::string::npos) {
    s.pfc = false;
    s.buffer_bytes = 256 * 1024;  // small enough to drop
  }
  return s;
}

void expect_same(const Report& a, const Report& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.packets_sent, b.packets_sent);
  EXPECT_EQ(a.packets_delivered, b.packets_delivered);
  EXPECT_EQ(a.payload_delivered, b.payload_delivered);
  EXPECT_EQ(a.flows_completed, b.flows_completed);
  EXPECT_EQ(a.drops, b.drops);
  EXPECT_EQ(a.unroutable, b.unroutable);
  EXPECT_EQ(a.pfc_pauses, b.pfc_pauses);
  EXPECT_EQ(a.ecn_marks, b.ecn_marks);
  EXPECT_EQ(a.cnps, b.cnps);
  EXPECT_EQ(a.max_queue_bytes, b.max_queue_bytes);
  EXPECT_EQ(a.fct_p50, b.fct_p50);
  EXPECT_EQ(a.fct_p99, b.fct_p99);
  EXPECT_EQ(a.fct_max, b.fct_max);
  EXPECT_EQ(a.last_done, b.last_done);
  EXPECT_EQ(a.throughput, b.throughput);  // the same doubles from the same sums, not merely close
  EXPECT_EQ(a.offered_bits, b.offered_bits);
  ASSERT_EQ(a.counters.ports.size(), b.counters.ports.size());
  for (size_t p = 0; p < a.counters.ports.size(); ++p) {
    const PortCounters &x = a.counters.ports[p], &y = b.counters.ports[p];
    ASSERT_TRUE(x.packets == y.packets && x.bytes == y.bytes && x.drops == y.drops && x.ecn_marks == y.ecn_marks &&
                x.pfc_pauses == y.pfc_pauses && x.rx_packets == y.rx_packets && x.rx_bytes == y.rx_bytes)
        << "port " << p;
  }
  ASSERT_EQ(a.counters.flows.size(), b.counters.flows.size());
  for (size_t f = 0; f < a.counters.flows.size(); ++f) {
    const FlowCounters &x = a.counters.flows[f], &y = b.counters.flows[f];
    ASSERT_TRUE(x.seen == y.seen && x.src == y.src && x.dst == y.dst && x.packets_sent == y.packets_sent &&
                x.bytes_sent == y.bytes_sent && x.packets_delivered == y.packets_delivered &&
                x.bytes_delivered == y.bytes_delivered && x.ce_delivered == y.ce_delivered && x.drops == y.drops &&
                x.cnps_delivered == y.cnps_delivered)
        << "flow " << f;
  }
}

void expect_partitions_agree(ScenarioSpec s, const std::string& what) {
  const Report one = run_scenario(s);
  // The scenario must exercise what it claims to, or agreeing would prove little.
  EXPECT_GT(one.packets_delivered, 1000u) << what;
  for (uint32_t parts : {2u, 3u, 4u, 8u}) {
    s.partitions = parts;
    expect_same(one, run_scenario(s), what + ", " + std::to_string(parts) + " parts");
  }
}

}  // namespace

TEST(Partition, PodsStayTogetherAndCoresAreDealt) {
  rfab::topo::FatTree t(rfab::topo::parse_fat_tree("fat-tree:k=8,tiers=3"));
  Partition p(t, 4, 1);
  for (uint32_t h = 0; h < t.hosts(); ++h) {
    const rfab::topo::NodeId leaf = t.leaf_of(h);
    EXPECT_EQ(p.part_of_port(h), p.part_of_port(t.port_base(leaf))) << "host " << h;
    EXPECT_EQ(p.part_of_port(h), t.pod_of_leaf(leaf - t.hosts()) * 4 / t.pods());
  }
  uint32_t per_part[4] = {};
  const rfab::topo::NodeId first_core = t.hosts() + t.leaves() + t.aggs();
  for (uint32_t c = 0; c < t.cores(); ++c) ++per_part[p.part_of_port(t.port_base(first_core + c))];
  for (uint32_t n : per_part) EXPECT_EQ(n, t.cores() / 4);
  EXPECT_EQ(p.lookahead(), t.latency_ps());
}

TEST(Partition, RefusesMorePartsThanPods) {
  rfab::topo::FatTree t(rfab::topo::parse_fat_tree("fat-tree:k=4,tiers=3"));
  try {
    Partition p(t, 5, 0);
    FAIL() << "5 parts of 4 pods";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("4 pods"), std::string::npos) << e.what();
  }
}

TEST(Partition, PfcAndDcqcnMatchOneQueue) {
  ScenarioSpec s = k8("ecmp dcqcn pfc");
  const Report one = run_scenario(s);
  EXPECT_GT(one.pfc_pauses + one.cnps, 0u) << "the scenario must pause or notify";
  expect_partitions_agree(s, "ecmp, dcqcn, pfc");
}

TEST(Partition, AdaptiveRoutingMatchesOneQueue) { expect_partitions_agree(k8("ar dcqcn pfc"), "ar, dcqcn, pfc"); }

TEST(Partition, LossyDropsMatchOneQueue) {
  ScenarioSpec s = k8("ecmp lossy");
  s.traffic = "all-to-all:bytes=16K";
  const Report one = run_scenario(s);
  EXPECT_GT(one.drops, 0u) << "the scenario must drop";
  expect_partitions_agree(s, "lossy all-to-all");
}

TEST(Partition, FailedLinksAndTwoTiersMatchOneQueue) {
  ScenarioSpec s = k8("ecmp dcqcn pfc");
  s.failures = "random-links:0.05";
  expect_partitions_agree(s, "failed links");
  ScenarioSpec two = k8("flowlet pfc");
  two.topology = "fat-tree:k=8,tiers=2,speed=100G";
  two.routing = Routing::flowlet;
  expect_partitions_agree(two, "2 tiers, flowlet");
}

TEST(Partition, RefusesWhatItCannotRun) {
  auto refused = [](ScenarioSpec s, const std::string& word) {
    s.partitions = 2;
    try {
      run_scenario(s);
      ADD_FAILURE() << "accepted: " << word;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  ScenarioSpec s = k8("");
  ScenarioSpec rc = s;
  rc.hosts = "rc";
  refused(rc, "hosts");
  ScenarioSpec path = s;
  path.routing = Routing::ar;
  path.ar_view = ArView::path;
  refused(path, "view=path");
  ScenarioSpec sampled = s;
  sampled.samples = 10;
  refused(sampled, "samples");
  ScenarioSpec ring = s;
  ring.traffic = "ring:bytes=1M,steps=2";
  refused(ring, "traffic");
  ScenarioSpec flow = s;
  flow.engine = "flow";
  refused(flow, "engine");
}
