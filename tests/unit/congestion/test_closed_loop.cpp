// The three DCQCN roles wired into one loop: N senders (reaction points) share a 100 Gb/s bottleneck
// whose queue marks with RED (congestion point); the receiver turns CE into CNPs (notification point);
// CNPs reach the senders after a fixed delay. A small time-stepped model, not the emulator: it checks
// that the pieces together do what DCQCN is for (the queue stops growing and stays near the marking
// thresholds, the link stays busy, the flows share it), which no per-role unit test can show.
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <deque>
#include <memory>
#include <vector>

#include "rfab/congestion/congestion_point.hpp"
#include "rfab/congestion/notification_point.hpp"
#include "rfab/congestion/factory.hpp"
#include "rfab/congestion/reaction_point.hpp"

namespace rfab::cc {
namespace {

struct LoopResult {
  double utilisation;       // bytes drained / capacity over the measured window
  uint64_t max_queue;       // bytes, over the measured window
  double mean_queue;        // bytes, over the measured window
  double jain;              // fairness of per-flow bytes over the measured window
  uint64_t cnps;
};

// `cc` is a make_controller() spec; the RED and CNP-interval parameters come from the same spec
// (the paper's for "none").
LoopResult run_incast(const char* cc, int flows, Nanos duration, Nanos measure_from) {
  const DcqcnParams p = std::string_view(cc) == "none" ? dcqcn_paper() : parse_dcqcn(cc);
  constexpr double kLine = 100e9;
  constexpr uint64_t kPacket = 4096;
  constexpr Nanos kStep = 100;          // 0.1 us per step
  constexpr Nanos kFeedback = 4_us;     // CE at the receiver -> CNP at the sender (propagation + NIC)
  const double drain_per_step = kLine / 8 * 1e-9 * kStep;  // bytes the bottleneck sends per step

  std::vector<std::unique_ptr<Controller>> rp;
  for (int i = 0; i < flows; ++i) rp.push_back(make_controller(cc, kLine));
  std::vector<double> credit(static_cast<size_t>(flows), 0.0);
  std::vector<uint64_t> sent(static_cast<size_t>(flows), 0);
  EcnMarker cp(p.red, 1);
  CnpGenerator np(p.cnp_interval);
  std::deque<std::pair<Nanos, int>> cnps_in_flight;  // arrival time at the sender, flow
  double queue = 0;
  double drained = 0;
  uint64_t max_queue = 0;
  double queue_sum = 0;
  uint64_t samples = 0;
  uint64_t cnps = 0;

  for (Nanos now = 0; now < duration; now += kStep) {
    while (!cnps_in_flight.empty() && cnps_in_flight.front().first <= now) {
      rp[static_cast<size_t>(cnps_in_flight.front().second)]->on_cnp(now);
      cnps_in_flight.pop_front();
    }
    for (int i = 0; i < flows; ++i) {
      auto& r = *rp[static_cast<size_t>(i)];
      if (r.next_timer() <= now) r.on_timer(now);
      credit[static_cast<size_t>(i)] += r.rate_bps(now) / 8 * 1e-9 * kStep;
      while (credit[static_cast<size_t>(i)] >= kPacket) {
        credit[static_cast<size_t>(i)] -= kPacket;
        r.on_send(now, kPacket);
        const bool ce = cp.mark(static_cast<uint64_t>(queue));
        queue += kPacket;
        if (now >= measure_from) sent[static_cast<size_t>(i)] += kPacket;
        // The receiver sees the packet after its queueing delay; the CNP is due kFeedback later.
        const Nanos at_receiver = now + static_cast<Nanos>(queue / (kLine / 8) * 1e9);
        if (ce && np.on_ce(at_receiver, static_cast<uint64_t>(i))) {
          ++cnps;
          const Nanos back = at_receiver + kFeedback;
          auto pos = std::upper_bound(cnps_in_flight.begin(), cnps_in_flight.end(), std::make_pair(back, i));
          cnps_in_flight.insert(pos, {back, i});
        }
      }
    }
    const double d = std::min(queue, drain_per_step);
    queue -= d;
    if (now >= measure_from) {
      drained += d;
      max_queue = std::max(max_queue, static_cast<uint64_t>(queue));
      queue_sum += queue;
      ++samples;
    }
  }
  double sum = 0, sq = 0;
  for (uint64_t b : sent) {
    sum += static_cast<double>(b);
    sq += static_cast<double>(b) * static_cast<double>(b);
  }
  const double capacity = drain_per_step * static_cast<double>(samples);
  return {drained / capacity, max_queue, queue_sum / static_cast<double>(samples),
          sum * sum / (static_cast<double>(flows) * sq), cnps};
}

// 8 senders at 100G into one 100G link: without control the queue grows at 700 Gb/s (87.5 MB per ms).
// With DCQCN it must settle near the RED thresholds (Kmin 5 KB, Kmax 200 KB: above Kmax every packet is
// marked) while the link stays busy and the flows share it. DCQCN gives up a little utilisation for the
// short queue (the paper preset's slow 40 Mb/s additive steps at 100G leave the queue empty at times).
void expect_stable(const LoopResult& r) {
  EXPECT_GT(r.cnps, 0u);
  EXPECT_GT(r.utilisation, 0.85) << "the link must stay busy";
  EXPECT_LT(r.max_queue, 1'000'000u) << "the queue must stay within a few Kmax";
  EXPECT_LT(r.mean_queue, 200'000.0) << "the queue should hover below Kmax";
  EXPECT_GT(r.jain, 0.95) << "flows should share the link";
}

TEST(DcqcnClosedLoop, WithoutCongestionControlTheQueueExplodes) {
  const LoopResult r = run_incast("none", 8, 30_ms, 10_ms);
  EXPECT_GT(r.cnps, 0u);  // the receiver still answers CE with CNPs; LineRate ignores them
  EXPECT_GT(r.max_queue, 1'000'000'000u);
}

TEST(DcqcnClosedLoop, PaperPresetStabilisesAnIncast) {
  expect_stable(run_incast("dcqcn:preset=paper", 8, 30_ms, 10_ms));
}

TEST(DcqcnClosedLoop, ConnectXPresetStabilisesAnIncast) {
  expect_stable(run_incast("dcqcn:preset=connectx", 8, 30_ms, 10_ms));
}

}  // namespace
}  // namespace rfab::cc
