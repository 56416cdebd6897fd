// Adaptive spraying and DCQCN across the two-path fabric lab, with path 0 a congested switch port: a tbf
// queue on A's side of it, ECN-CE marked from a virtual queue at 80% of the tbf rate (the switch-port
// program on R). Queue lengths are path 0's tbf backlog (tc -s), sampled every 5 ms.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "netns.hpp"
#include "twopath_fabric.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::PerfOutcome;
using rfab::systest::PortCounters;
using rfab::systest::TwoPathFabric;

struct PathRun {
  PerfOutcome perf;
  uint64_t path0 = 0, path1 = 0;  // RoCE packets A->B per path (switch-port counters)
  uint64_t drops = 0;             // path 0's tbf drops during the run
  uint64_t median_queue = 0, max_queue = 0;  // path 0's tbf backlog, sampled every 5 ms
  uint64_t median_queue_both = 0;            // both paths' tbf backlogs added, sampled every 5 ms
  uint64_t drops_both = 0;                   // both paths' tbf drops during the run
};

class TwoPathAdaptive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces, tc, BPF)";
    fabric_ = std::make_unique<TwoPathFabric>();
  }

  // Path 0: tbf at `rate0` with a 4 MB queue (deep enough for the first round trips at line rate, before
  // any feedback), marking above 32 KB in a virtual queue at `vq0`. Path 1: tbf at `rate1` (empty: unshaped).
  void congest_path0(const std::string& rate0, const std::string& vq0, const std::string& rate1) {
    fabric_->shape(0, rate0, "64k", "4m");
    if (!rate1.empty()) fabric_->shape(1, rate1, "64k", "4m");
    vq0_ = vq0;
  }

  // Both paths: tbf at `rate` with a 4 MB queue, marking above 32 KB in a virtual queue at `vq` that sees
  // packets as they join the tbf queue (a port model on A's egress, in front of the tbf), as a switch
  // marks at enqueue. Marking at R would see only the tbf's output, delayed by the queue it should limit.
  void congest_both_marking_at_enqueue(const std::string& rate, const std::string& vq) {
    for (int k : {0, 1}) fabric_->shape(k, rate, "64k", "4m");
    enqueue_vq_ = vq;
  }

  PathRun write(const std::vector<std::string>& args) {
    fabric_->port(0, {"--reset", "--vq-rate", vq0_, "--mark-threshold", "32k"});
    fabric_->port(1, {"--reset"});
    if (!enqueue_vq_.empty())
      for (int k : {0, 1})
        fabric_->port(k, {"--dir", "enq", "--reset", "--vq-rate", enqueue_vq_, "--mark-threshold", "32k"});
    const uint64_t drops_before = fabric_->qdisc(0).drops, drops1_before = fabric_->qdisc(1).drops;
    std::atomic<bool> done{false};
    std::vector<uint64_t> queue, queue_both;
    std::thread sampler([&] {
      while (!done) {
        const uint64_t q0 = fabric_->qdisc(0).backlog_bytes;
        queue.push_back(q0);
        queue_both.push_back(q0 + fabric_->qdisc(1).backlog_bytes);
        std::this_thread::sleep_for(5ms);
      }
    });
    PathRun r;
    r.perf = fabric_->perf("write", args);
    done = true;
    sampler.join();
    r.path0 = fabric_->forward(0).roce_packets;
    r.path1 = fabric_->forward(1).roce_packets;
    r.drops = fabric_->qdisc(0).drops - drops_before;
    r.drops_both = r.drops + fabric_->qdisc(1).drops - drops1_before;
    std::sort(queue_both.begin(), queue_both.end());
    if (!queue_both.empty()) r.median_queue_both = queue_both[queue_both.size() / 2];
    std::sort(queue.begin(), queue.end());
    if (!queue.empty()) {
      r.median_queue = queue[queue.size() / 2];
      r.max_queue = queue.back();
    }
    return r;
  }

  static void expect_verified(const PerfOutcome& o) {
    ASSERT_EQ(o.client_rc, 0) << "client:\n" << o.client_out << "\nserver:\n" << o.server_out;
    ASSERT_EQ(o.server_rc, 0) << "server:\n" << o.server_out;
    EXPECT_TRUE(o.client.value("verified", false)) << o.client_out;
    EXPECT_TRUE(o.server.value("verified", false)) << o.server_out;
  }

  static void print(const char* what, const PathRun& r) {
    std::printf("%-28s %6.2f Gb/s  path0/path1 %7llu / %7llu packets  path-0 queue median %7llu B max %7llu B"
                "  drops %llu  CNPs %llu  rate cuts %llu\n",
                what, r.perf.client.value("bw_avg_gbps", 0.0), static_cast<unsigned long long>(r.path0),
                static_cast<unsigned long long>(r.path1), static_cast<unsigned long long>(r.median_queue),
                static_cast<unsigned long long>(r.max_queue), static_cast<unsigned long long>(r.drops),
                static_cast<unsigned long long>(r.perf.c("cnps_received")),
                static_cast<unsigned long long>(r.perf.c("rate_cuts")));
  }

  std::unique_ptr<TwoPathFabric> fabric_;
  std::string vq0_ = "off";
  std::string enqueue_vq_;  // set: both paths mark at enqueue (congest_both_marking_at_enqueue)
};

// Path 0 a 500 Mbit/s bottleneck, path 1 unshaped. Eight QPs with fixed-port ECMP: those hashed onto path 0
// share its 500 Mbit/s and the run ends at their pace. The adaptive spray with DCQCN moves its traffic to
// path 1 (the CNPs name the marked ports, and while another port is clean a CNP moves traffic rather than
// cutting the rate), keeps path 0's queue short and drops nothing.
TEST_F(TwoPathAdaptive, AdaptiveSprayWithDcqcnMovesOffTheCongestedPathAndBeatsEcmp) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a timing and rate test: AddressSanitizer's slowdown changes what it measures";
#endif
  congest_path0("500mbit", "400mbit", "");
  const PathRun ecmp = write({"-s", "256K", "-n", "100", "-q", "8"});
  const PathRun adaptive =
      write({"-s", "256K", "-n", "100", "-q", "8", "--spray", "8", "--adaptive", "--cc", "dcqcn", "--line-rate", "10G"});
  print("fixed-port ECMP", ecmp);
  print("adaptive spray + DCQCN", adaptive);
  expect_verified(ecmp.perf);
  expect_verified(adaptive.perf);
  // 8 QPs all hashed onto path 1 (probability 1/256) leave nothing to compare against.
  if (ecmp.path0 == 0) GTEST_SKIP() << "every ECMP QP hashed onto the clean path";
  const double ecmp_gbps = ecmp.perf.client.value("bw_avg_gbps", 0.0);
  const double adaptive_gbps = adaptive.perf.client.value("bw_avg_gbps", 0.0);
  EXPECT_GT(adaptive_gbps, 1.5 * ecmp_gbps);
  // Traffic left the congested path: at most a fifth of it crossed path 0 (probes and the first round
  // trips before the first CNPs).
  EXPECT_LT(adaptive.path0 * 5, adaptive.path0 + adaptive.path1) << fabric_->dump();
  EXPECT_EQ(adaptive.drops, 0u) << fabric_->dump();
  // The congested path's queue: ~0 when the machine is quiet; a loaded machine delays the CNPs' effect
  // (112 KB was seen), still far below the queue fixed-port ECMP keeps there (~520 KB).
  EXPECT_LT(adaptive.median_queue * 4, ecmp.median_queue) << fabric_->dump();
  // The client's per-port view says why: CNPs named ports, which were set aside and probed.
  uint64_t cnps = 0, aside = 0, probes = 0;
  for (const auto& p : adaptive.perf.client.at("paths")) {
    cnps += p.value("cnps", uint64_t{0});
    aside += p.value("set_aside", uint64_t{0});
    probes += p.value("probes", uint64_t{0});
  }
  EXPECT_GT(cnps, 0u) << adaptive.perf.client_out;
  EXPECT_GT(adaptive.perf.c("cnps_steered"), 0u) << adaptive.perf.client_out;
  EXPECT_GT(aside, 0u) << adaptive.perf.client_out;
  EXPECT_GT(probes, 0u) << adaptive.perf.client_out;
  EXPECT_TRUE(adaptive.perf.client.value("adaptive", false));
}

// Both paths 500 Mbit/s bottlenecks with 4 MB queues, marking above 32 KB in a virtual queue at 400 Mbit/s
// fed at enqueue. One QP at a fixed port: without congestion control it sends at line rate and the queue of
// the path it hashes onto holds its whole window (about 2 MB); with DCQCN (paper parameters, from 10G) the
// marks come back as CNPs, the rate settles near the marking rate and the queue stays empty, with nothing
// dropped. (Two QPs on one 500 Mbit/s path keep it full even with DCQCN: the paper's 40 Mb/s additive
// steps every 55 us outrun the cuts a CNP every 50 us can make at this rate.)
TEST_F(TwoPathAdaptive, DcqcnHoldsTheBottleneckQueueDown) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a timing and rate test: AddressSanitizer's slowdown changes what it measures";
#endif
  congest_both_marking_at_enqueue("500mbit", "400mbit");
  const std::vector<std::string> traffic = {"-s", "256K", "-n", "120", "-q", "1"};
  std::vector<std::string> with_cc = traffic;
  for (const char* a : {"--cc", "dcqcn", "--line-rate", "10G"}) with_cc.push_back(a);
  const PathRun plain = write(traffic);
  const PathRun dcqcn = write(with_cc);
  print("no congestion control", plain);
  print("DCQCN (from 10G)", dcqcn);
  std::printf("queue median, both paths: %llu B without, %llu B with DCQCN; drops %llu / %llu\n",
              static_cast<unsigned long long>(plain.median_queue_both),
              static_cast<unsigned long long>(dcqcn.median_queue_both),
              static_cast<unsigned long long>(plain.drops_both), static_cast<unsigned long long>(dcqcn.drops_both));
  expect_verified(plain.perf);
  expect_verified(dcqcn.perf);
  EXPECT_EQ(plain.perf.c("rate_cuts"), 0u);
  EXPECT_GT(plain.median_queue_both, 512u * 1024) << "the bottleneck never queued: nothing for DCQCN to hold down";
  EXPECT_GT(dcqcn.perf.c("rate_cuts"), 0u) << dcqcn.perf.client_out;
  EXPECT_LT(dcqcn.median_queue_both * 4, plain.median_queue_both);
  EXPECT_EQ(dcqcn.drops_both, 0u) << fabric_->dump();
  // Holding the queue down costs little goodput: the rate stays near the bottleneck's.
  EXPECT_GT(dcqcn.perf.client.value("bw_avg_gbps", 0.0), 0.5 * plain.perf.client.value("bw_avg_gbps", 0.0));
}

// A 2-rank allreduce with the adaptive spray and DCQCN (the collectives' environment) across the same
// congested path 0: every result right, and most packets on the clean path.
TEST_F(TwoPathAdaptive, AdaptiveAllreduceIsCorrectAndAvoidsTheCongestedPath) {
  congest_path0("500mbit", "400mbit", "");
  fabric_->port(0, {"--reset", "--vq-rate", vq0_, "--mark-threshold", "32k"});
  fabric_->port(1, {"--reset"});
  auto rank = [&](int r, const std::string& ns) {
    return std::make_unique<rfab::systest::Child>(
        ns,
        std::vector<std::string>{"env", "RANK=" + std::to_string(r), "WORLD_SIZE=2", "MASTER_ADDR=" + fabric_->ip_a,
                                 "MASTER_PORT=29519", "RFAB_TIMEOUT=60", "RFAB_ROCE_PORT=4791", "RFAB_ROCE_SPRAY=8",
                                 "RFAB_ROCE_ADAPTIVE=1", "RFAB_ROCE_CC=dcqcn", rfab::systest::rfab_binary(), "coll",
                                 "allreduce", "-b", "1M", "-e", "4M", "-f", "4", "-c", "1", "-n", "20"},
        "/tmp/" + fabric_->name + "-adaptive-rank" + std::to_string(r) + ".log");
  };
  auto r0 = rank(0, fabric_->ns_a);
  auto r1 = rank(1, fabric_->ns_b);
  ASSERT_EQ(r0->wait(120s), 0) << r0->output() << "\n" << r1->output();
  ASSERT_EQ(r1->wait(30s), 0) << r1->output();
  const std::string out = r0->output();
  const std::vector<rfab::systest::CollRow> rows = rfab::systest::coll_rows(out);
  for (const auto& row : rows) {
    EXPECT_EQ(row.wrong_out_of_place, "0") << row.line;
    EXPECT_EQ(row.wrong_in_place, "0") << row.line;
  }
  EXPECT_EQ(rows.size(), 2u) << out;  // 1M, 4M
  const PortCounters p0 = fabric_->forward(0), p1 = fabric_->forward(1);
  std::printf("adaptive allreduce: path 0 %llu, path 1 %llu RoCE packets A->B\n",
              static_cast<unsigned long long>(p0.roce_packets), static_cast<unsigned long long>(p1.roce_packets));
  EXPECT_LT(p0.roce_packets * 4, p1.roce_packets) << fabric_->dump();
}

}  // namespace
