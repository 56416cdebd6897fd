// The eBPF collector against known RoCE v2 traffic on a veth pair, for every hook: every counter exact.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "harness.hpp"
#include "rfab/base/env.hpp"
#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/psn_window.hpp"
#include "roce_traffic.hpp"

namespace rfab::test {
namespace {

namespace tm = rfab::telemetry;
using namespace std::chrono_literals;

struct HookCase {
  const char* name;
  tm::Hook hook;
  const char* iface;  // rft0b receives what rft0a injects; tc on rft0a sees it leave (egress)
  uint8_t dir;
};

std::ostream& operator<<(std::ostream& os, const HookCase& c) { return os << c.name; }

tm::CollectorConfig config(const char* iface, tm::Hook hook) {
  tm::CollectorConfig cfg;
  cfg.iface = iface;
  cfg.hook = hook;
  cfg.cnp_burst_threshold = 8;
  cfg.cnp_burst_window_ns = 60'000'000'000ull;  // one window for the whole test: the burst is deterministic
  // Holes are lost by the PSN window only: what the plans expect does not depend on the injection's pace.
  // AHoleOpenLongerThanTheHoleTimeoutIsLostAndItsFillIsLate sets one.
  cfg.hole_timeout_ns = 0;
  return cfg;
}

uint64_t seen(const tm::CollectorSnapshot& s, uint8_t dir) {
  const auto& t = s.totals[dir];
  return t.roce_packets + t.malformed + t.not_roce;
}

// Counters are updated as packets arrive; wait (bounded) until the hook has seen `frames`.
tm::CollectorSnapshot wait_for(tm::Collector& c, uint8_t dir, uint64_t frames) {
  auto end = std::chrono::steady_clock::now() + 5s;
  auto s = c.snapshot();
  while (seen(s, dir) < frames && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(10ms);
    s = c.snapshot();
  }
  std::this_thread::sleep_for(50ms);  // and nothing more arrives
  return c.snapshot();
}

void expect_totals(const rfab_totals& t, const Plan& p, uint64_t times = 1) {
  EXPECT_EQ(t.frames, times * (p.roce_packets + p.malformed + p.not_roce));
  EXPECT_EQ(t.bytes, [&] {
    uint64_t b = 0;
    for (const auto& f : p.frames) b += f.size();
    return times * b;
  }());
  EXPECT_EQ(t.roce_packets, times * p.roce_packets);
  EXPECT_EQ(t.roce_bytes, times * p.roce_bytes);
  EXPECT_EQ(t.not_roce, times * p.not_roce);
  EXPECT_EQ(t.malformed, times * p.malformed);
  EXPECT_EQ(t.flow_map_full, 0u);
  EXPECT_EQ(t.events_dropped, 0u);
  EXPECT_EQ(t.ecn_ce, times * p.ce);
  EXPECT_EQ(t.cnps, times * p.cnps);
  EXPECT_EQ(t.naks, times * p.naks);
}

void expect_flows(const tm::CollectorSnapshot& s, const Plan& p, uint8_t dir) {
  ASSERT_EQ(s.flows.size(), p.flows.size());
  for (const auto& r : s.flows) {
    std::string src = tm::format_addr(r.key.src, r.key.family), dst = tm::format_addr(r.key.dst, r.key.family);
    SCOPED_TRACE(src + " > " + dst + " qp " + std::to_string(r.key.qp));
    const ExpectedFlow* e = p.find(src, dst, r.key.qp);
    ASSERT_NE(e, nullptr) << "unexpected flow";
    EXPECT_EQ(r.key.dir, dir);
    EXPECT_EQ(r.stats.packets, e->packets);
    EXPECT_EQ(r.stats.bytes, e->bytes);
    for (unsigned c = 0; c < RFAB_OPC_COUNT; ++c) EXPECT_EQ(r.stats.op_class[c], e->op[c]) << tm::op_class_name(c);
    EXPECT_EQ(r.stats.ecn_ce, e->ce);
    EXPECT_EQ(r.stats.cnps, e->cnps);
    for (unsigned n = 0; n < RFAB_NAK_COUNT; ++n) EXPECT_EQ(r.stats.naks[n], e->naks[n]) << tm::nak_kind_name(n);
    EXPECT_EQ(r.stats.psn_gaps, e->gaps);
    EXPECT_EQ(r.stats.psn_holes, e->holes);
    EXPECT_EQ(r.stats.lost, e->lost);
    EXPECT_EQ(r.stats.reordered, e->reordered);
    EXPECT_EQ(r.stats.reorder_distance_sum, e->distance_sum);
    EXPECT_EQ(r.stats.reorder_distance_max, e->distance_max);
    for (unsigned b = 0; b < RFAB_REORDER_BUCKETS; ++b)
      EXPECT_EQ(r.stats.reorder_hist[b], e->distance_hist[b]) << "distance " << tm::reorder_bucket_name(b);
    EXPECT_EQ(r.stats.duplicates, e->duplicates);
    EXPECT_EQ(r.stats.too_old, e->too_old);
    EXPECT_EQ(r.stats.psn_backwards, e->backwards);
    EXPECT_EQ(r.outstanding, e->outstanding);
    std::map<uint16_t, uint64_t> entropy;
    for (const auto& x : r.entropies) entropy[x.port] = x.packets;
    EXPECT_EQ(entropy, e->entropy);
    EXPECT_EQ(r.stats.entropy_other, e->entropy_other);
  }
}

// The totals' PSN counters: the flows' sums.
void expect_psn_totals(const rfab_totals& t, const Plan& p) {
  EXPECT_EQ(t.psn_gaps, p.sum(&ExpectedFlow::gaps));
  EXPECT_EQ(t.psn_holes, p.sum(&ExpectedFlow::holes));
  EXPECT_EQ(t.lost, p.sum(&ExpectedFlow::lost));
  EXPECT_EQ(t.reordered, p.sum(&ExpectedFlow::reordered));
  EXPECT_EQ(t.duplicates, p.sum(&ExpectedFlow::duplicates));
  EXPECT_EQ(t.too_old, p.sum(&ExpectedFlow::too_old));
  EXPECT_EQ(t.psn_backwards, p.sum(&ExpectedFlow::backwards));
  EXPECT_EQ(t.late, 0u);
}

// Totals (with the PSN tracker's sums) and every flow, exactly as planned.
void expect_counts(const tm::CollectorSnapshot& s, const Plan& p, uint8_t dir) {
  expect_totals(s.totals[dir], p);
  expect_psn_totals(s.totals[dir], p);
  expect_flows(s, p, dir);
}

class TelemetryCollector : public ::testing::TestWithParam<HookCase> {
 protected:
  void SetUp() override {
    std::string why;
    if (!enter_test_netns(why)) GTEST_SKIP() << why;
  }
};

// More flows than the programs' per-CPU flow cache (RFAB_FLOW_CACHE_SLOTS) holds, interleaved, so
// lookups keep missing the cache and evicting each other: every flow must still be counted exactly.
TEST_P(TelemetryCollector, FlowsBeyondTheFlowCacheAreCountedExactly) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_round_robin_plan(3 * RFAB_FLOW_CACHE_SLOTS + 17, 4, 32);
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_totals(s.totals[hc.dir], p);
  EXPECT_EQ(s.totals[hc.dir].psn_gaps, 0u);
  EXPECT_EQ(s.totals[hc.dir].psn_backwards, 0u);
  expect_flows(s, p, hc.dir);
}

// Sprayed traffic (8 source ports per QP, each block of 8 PSNs arriving last-first): reordered, not
// lost; every distance and every source port's packets exact.
TEST_P(TelemetryCollector, SprayedReorderingIsNotLoss) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_spray_plan(4, 40);
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_counts(s, p, hc.dir);
  EXPECT_EQ(s.totals[hc.dir].lost, 0u);
  EXPECT_EQ(s.totals[hc.dir].reordered, 4u * 40 * 7);  // distances 1..7 in every block
  ASSERT_EQ(s.flows.size(), 4u);
  EXPECT_EQ(s.flows[0].entropies.size(), 8u);
  EXPECT_EQ(s.flows[0].stats.reorder_distance_max, 7u);
}

// The same with PSNs never sent: each is lost exactly once RFAB_PSN_WINDOW later PSNs have arrived (the
// window), those near the end stay outstanding; the rest is still reordering.
TEST_P(TelemetryCollector, RealGapsAreLostOnceOutOfTheWindow) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  // 1: the first block's top (the jump comes from the next one); 13, 14: two in a row; 100: alone;
  // 478: 2 below the last PSN (480), outstanding.
  Plan p = make_spray_plan(2, 60, {1, 13, 14, 100, 478});
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_counts(s, p, hc.dir);
  EXPECT_EQ(s.totals[hc.dir].lost, 2u * 4);
  ASSERT_EQ(s.flows.size(), 2u);
  EXPECT_EQ(s.flows[0].outstanding, 1u);
}

// Reordering hundreds of PSNs deep, as spraying over paths of different delay makes it, through a PSN
// wrap: holes filled up to 255 PSNs late are reordered, not lost; one 256 late was lost and then arrives
// below the window; one never sent is lost when it leaves the window; a duplicate is not a fill.
TEST_P(TelemetryCollector, DeepReorderingWithinTheWindowIsNotLoss) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_deep_reorder_plan();
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_counts(s, p, hc.dir);
  ASSERT_EQ(s.flows.size(), 1u);
  EXPECT_EQ(s.flows[0].stats.reorder_distance_max, 255u);
  EXPECT_EQ(s.flows[0].stats.reorder_hist[RFAB_REORDER_BUCKETS - 1], 3u) << "distances 199, 200, 255: 128+";
  EXPECT_EQ(s.flows[0].stats.lost, 2u);
  EXPECT_EQ(s.flows[0].outstanding, 1u);
}

// A hole open longer than the hole timeout is lost; the packet that fills it later is late (a resend),
// not reordered. A hole filled at once is reordered, with how long it was open.
TEST_P(TelemetryCollector, AHoleOpenLongerThanTheHoleTimeoutIsLostAndItsFillIsLate) {
  const HookCase& hc = GetParam();
  tm::CollectorConfig cfg = config(hc.iface, hc.hook);
  cfg.hole_timeout_ns = 20'000'000;  // 20 ms
  auto col = tm::Collector::open(cfg);
  // PSNs 0..9 without 3 and 7; 7 follows at once, 3 only after 100 ms (as a resend would).
  Plan p = make_clean_plan(1, 10, 256);
  std::vector<std::vector<uint8_t>> first;
  for (size_t i = 0; i < p.frames.size(); ++i)
    if (i != 3 && i != 7) first.push_back(p.frames[i]);
  first.push_back(p.frames[7]);
  inject("rft0a", first);
  wait_for(*col, hc.dir, first.size());
  std::this_thread::sleep_for(100ms);
  inject("rft0a", {p.frames[3]});
  auto s = wait_for(*col, hc.dir, p.frames.size());
  ASSERT_EQ(s.flows.size(), 1u);
  const auto& st = s.flows[0].stats;
  EXPECT_EQ(st.psn_gaps, 2u);
  EXPECT_EQ(st.psn_holes, 2u);
  EXPECT_EQ(st.reordered, 1u);
  EXPECT_EQ(st.reorder_distance_max, 2u);
  EXPECT_LT(st.reorder_delay_max_ns, 20'000'000u);
  EXPECT_EQ(st.late, 1u);
  EXPECT_EQ(st.lost, 1u);
  EXPECT_EQ(st.psn_backwards, 2u);
  EXPECT_EQ(s.flows[0].outstanding, 0u);
  EXPECT_EQ(s.totals[hc.dir].late, 1u);
  EXPECT_EQ(s.totals[hc.dir].lost, 1u);
  // The loss is reported as an event too: the late PSN, with one PSN lost.
  std::vector<rfab_event> lost;
  auto end = std::chrono::steady_clock::now() + 3s;
  while (lost.empty() && std::chrono::steady_clock::now() < end)
    for (const auto& e : col->poll_events(100ms))
      if (e.raw.type == RFAB_EV_PSN_LOST) lost.push_back(e.raw);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].psn, 3u);
  EXPECT_EQ(lost[0].value, 1u);
}

// More source ports than a flow's entropy table holds, all on one home slot: the table fills by probing,
// the rest is counted as "other".
TEST_P(TelemetryCollector, SourcePortsBeyondTheEntropyTableAreCountedAsOther) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_entropy_overflow_plan();
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_counts(s, p, hc.dir);
  ASSERT_EQ(s.flows.size(), 1u);
  EXPECT_EQ(s.flows[0].entropies.size(), size_t{RFAB_ENTROPY_SLOTS});
  EXPECT_EQ(s.flows[0].stats.entropy_other, 8u);
}

TEST_P(TelemetryCollector, CountsKnownTrafficExactly) {
  const HookCase& hc = GetParam();
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_plan(25);
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());

  expect_counts(s, p, hc.dir);
  EXPECT_EQ(s.totals[1 - hc.dir].frames, 0u) << "nothing travels the other way";

  // The ring buffer: one event per NAK, per packet that pushed lost PSNs out of the window, per CNP burst.
  std::map<uint32_t, std::vector<rfab_event>> ev;
  auto end = std::chrono::steady_clock::now() + 3s;
  size_t want = p.nak_events + p.lost_events + p.cnp_burst_events;
  size_t got = 0;
  while (got < want && std::chrono::steady_clock::now() < end)
    for (const auto& e : col->poll_events(100ms)) ev[e.raw.type].push_back(e.raw), ++got;
  for (const auto& e : col->poll_events(50ms)) ev[e.raw.type].push_back(e.raw);  // and no extra ones
  EXPECT_EQ(ev[RFAB_EV_NAK].size(), p.nak_events);
  EXPECT_EQ(ev[RFAB_EV_CNP_BURST].size(), p.cnp_burst_events);
  ASSERT_EQ(ev[RFAB_EV_PSN_LOST].size(), p.lost_events);
  for (unsigned i = 0; i < 2; ++i) {  // QP 0x210: PSNs 10 and 11 pushed out RFAB_PSN_WINDOW later, past the wrap
    const auto& lost = ev[RFAB_EV_PSN_LOST][i];
    EXPECT_EQ(lost.key.qp, 0x210u);
    EXPECT_EQ(lost.psn, (0xFFFFF0u + 10 + RFAB_PSN_WINDOW + i) & 0xFFFFFF);
    EXPECT_EQ(lost.expected_psn, lost.psn);
    EXPECT_EQ(lost.value, 1u);
  }
  if (!ev[RFAB_EV_CNP_BURST].empty()) {
    EXPECT_EQ(ev[RFAB_EV_CNP_BURST][0].key.qp, 0x400u);
    EXPECT_EQ(ev[RFAB_EV_CNP_BURST][0].value, 8u);
  }
}

// RoCE at a 4096-byte path MTU. An AF_PACKET sender's skb for such a frame holds only the Ethernet header
// in its linear part, so tc finds the IP, UDP and RoCE headers in a page fragment; XDP gets the frame as
// a multi-buffer xdp_buff (native) or a linearised one (generic).
TEST_P(TelemetryCollector, JumboFramesAreCountedExactly) {
  const HookCase& hc = GetParam();
  for (const char* dev : {"rft0a", "rft0b"})
    ASSERT_EQ(std::system(("ip link set " + std::string(dev) + " mtu 9000").c_str()), 0);
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_jumbo_plan();
  inject("rft0a", p.frames);
  expect_counts(wait_for(*col, hc.dir, p.frames.size()), p, hc.dir);
}

// Sends `frames` from a thread pinned to `cpu`: veth runs the receive side (NAPI for native XDP, the
// backlog otherwise) and tc egress on the sending CPU, so that is the CPU the hook program runs on.
void inject_from_cpu(int cpu, const std::vector<std::vector<uint8_t>>& frames) {
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
    inject("rft0a", frames);
  });
  t.join();
}

// Two CPUs this process may run on (fewer when its affinity allows fewer).
std::vector<int> two_cpus() {
  cpu_set_t mine;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &mine)) cpus.push_back(c);
  return cpus;
}

// A flow's packets counted on two CPUs: the one that created the flow adds without locks, the other
// atomically to its own copy of the counters; together they must be exact, and PSN tracking must not
// see a gap where the stream moved from one CPU to the other.
TEST_P(TelemetryCollector, OneFlowOnTwoCpusIsCountedExactly) {
  const HookCase& hc = GetParam();
  const std::vector<int> cpus = two_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  Plan p = make_plan(25);
  const size_t half = p.frames.size() / 2;
  const std::vector<std::vector<uint8_t>> first(p.frames.begin(), p.frames.begin() + static_cast<long>(half));
  const std::vector<std::vector<uint8_t>> second(p.frames.begin() + static_cast<long>(half), p.frames.end());
  inject_from_cpu(cpus[0], first);
  wait_for(*col, hc.dir, first.size());  // in order: the second CPU must not overtake the first
  inject_from_cpu(cpus[1], second);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_totals(s.totals[hc.dir], p);
  expect_psn_totals(s.totals[hc.dir], p);
  expect_flows(s, p, hc.dir);
  // The second CPU did count through the other copy (the test would prove nothing otherwise).
  uint64_t foreign = 0;
  for (const auto& r : s.flows) foreign += r.stats.foreign_bytes;
  EXPECT_GT(foreign, 0u);
}

// One sprayed flow's packets counted on two CPUs at the same time (each sends every other frame): the
// PSN window is updated under its spin lock, so whatever order the two streams interleave in, every PSN is accounted for exactly once: no duplicates, every hole reordered, lost (and then
// arriving below the window) or still open, and packets, bytes and source ports exact.
TEST_P(TelemetryCollector, OneSprayedFlowOnTwoCpusAtOnceKeepsEveryPsnAccountedFor) {
  const HookCase& hc = GetParam();
  const std::vector<int> cpus = two_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  const unsigned blocks = 500;
  Plan p = make_spray_plan(2, blocks);
  // Each flow's first PSN goes first, alone: the window starts there, and a packet below the first PSN a
  // flow shows cannot be told from a duplicate (see docs/telemetry.md).
  std::vector<std::vector<uint8_t>> firsts, half[2];
  for (size_t i = 0; i < p.frames.size(); ++i) {
    if (i % (1 + 8 * blocks) == 0) firsts.push_back(p.frames[i]);
    else half[i % 2].push_back(p.frames[i]);
  }
  inject_from_cpu(cpus[0], firsts);
  wait_for(*col, hc.dir, firsts.size());
  std::thread a([&] { inject_from_cpu(cpus[0], half[0]); });
  std::thread b([&] { inject_from_cpu(cpus[1], half[1]); });
  a.join();
  b.join();
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_totals(s.totals[hc.dir], p);
  ASSERT_EQ(s.flows.size(), p.flows.size());
  for (const auto& r : s.flows) {
    SCOPED_TRACE("qp " + std::to_string(r.key.qp));
    const ExpectedFlow* e = p.find("10.77.0.1", "10.77.0.2", r.key.qp);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(r.stats.packets, e->packets);
    EXPECT_EQ(r.stats.bytes, e->bytes);
    std::map<uint16_t, uint64_t> entropy;
    for (const auto& x : r.entropies) entropy[x.port] = x.packets;
    EXPECT_EQ(entropy, e->entropy);
    const auto& st = r.stats;
    EXPECT_EQ(st.duplicates, 0u) << "every PSN is sent once";
    EXPECT_EQ(st.lost, st.too_old) << "a PSN counted lost can only arrive later, below the window";
    EXPECT_EQ(st.psn_holes, st.reordered + st.lost + r.outstanding);
    EXPECT_EQ(st.psn_backwards, st.reordered + st.too_old);
    EXPECT_EQ(st.psn_gaps > 0, true);
  }
}

TEST_P(TelemetryCollector, SurvivesInterfaceDownUpAndReattach) {
  const HookCase& hc = GetParam();
  Plan p = make_plan(10);
  {
    auto col = tm::Collector::open(config(hc.iface, hc.hook));
    inject("rft0a", p.frames);
    wait_for(*col, hc.dir, p.frames.size());
    ASSERT_EQ(std::system((std::string("ip link set ") + hc.iface + " down").c_str()), 0);
    ASSERT_EQ(std::system((std::string("ip link set ") + hc.iface + " up").c_str()), 0);
    // veth needs both ends up for carrier; wait for it (bounded) before sending again.
    auto end = std::chrono::steady_clock::now() + 5s;
    while (!link_running(hc.iface) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(link_running(hc.iface));
    inject("rft0a", p.frames);
    auto s = wait_for(*col, hc.dir, 2 * p.frames.size());
    expect_totals(s.totals[hc.dir], p, 2);
  }  // detached here
  // Re-attach: the hook is free again, and a new collector starts from zero.
  auto col = tm::Collector::open(config(hc.iface, hc.hook));
  EXPECT_EQ(col->snapshot().totals[hc.dir].frames, 0u);
  inject("rft0a", p.frames);
  auto s = wait_for(*col, hc.dir, p.frames.size());
  expect_totals(s.totals[hc.dir], p);
  expect_flows(s, p, hc.dir);
}

TEST_P(TelemetryCollector, SecondCollectorOnTheSameInterfaceGetsAClearError) {
  const HookCase& hc = GetParam();
  auto first = tm::Collector::open(config(hc.iface, hc.hook));
  try {
    auto second = tm::Collector::open(config(hc.iface, hc.hook));
    FAIL() << "a second collector attached";
  } catch (const tm::TelemetryError& e) {
    EXPECT_NE(std::string(e.what()).find("already"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(hc.iface), std::string::npos) << e.what();
  }
  // The same through the command line, which must exit 2 with the message.
  auto r = run({rfab_binary(), "collect", "--iface", hc.iface, "--hook", tm::to_string(hc.hook), "--duration", "1s"},
               10s);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("already"), std::string::npos) << r.err;
  // And the first keeps counting.
  Plan p = make_plan(8);
  inject("rft0a", p.frames);
  expect_totals(wait_for(*first, hc.dir, p.frames.size()).totals[hc.dir], p);
}

INSTANTIATE_TEST_SUITE_P(Hooks, TelemetryCollector,
                         ::testing::Values(HookCase{"xdp", tm::Hook::xdp, "rft0b", RFAB_DIR_INGRESS},
                                           HookCase{"xdp_generic", tm::Hook::xdp_generic, "rft0b", RFAB_DIR_INGRESS},
                                           HookCase{"tc_ingress", tm::Hook::tc, "rft0b", RFAB_DIR_INGRESS},
                                           HookCase{"tc_egress", tm::Hook::tc, "rft0a", RFAB_DIR_EGRESS}),
                         [](const auto& p) { return std::string(p.param.name); });

class TelemetryCollectorLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!enter_test_netns(why)) GTEST_SKIP() << why;
  }
};

TEST_F(TelemetryCollectorLimits, FullFlowMapIsCountedNotSilent) {
  auto cfg = config("rft0b", tm::Hook::xdp_generic);
  cfg.flow_map_entries = 3;
  auto col = tm::Collector::open(cfg);
  Plan p = make_clean_plan(5, 4, 64);  // 5 flows into a map of 3
  inject("rft0a", p.frames);
  auto s = wait_for(*col, RFAB_DIR_INGRESS, p.frames.size());
  EXPECT_EQ(s.flows.size(), 3u);
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_packets, 20u);
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].flow_map_full, 8u);  // two flows of four packets had no room
  uint64_t in_flows = 0;
  for (const auto& f : s.flows) in_flows += f.stats.packets;
  EXPECT_EQ(in_flows, 12u);
}

TEST_F(TelemetryCollectorLimits, ConfigurableRocePort) {
  auto cfg = config("rft0b", tm::Hook::xdp_generic);
  cfg.roce_port = 4792;  // the plan's "not RoCE" datagrams go to 4792 (and carry a BTH)
  auto col = tm::Collector::open(cfg);
  Plan p = make_plan(8);
  inject("rft0a", p.frames);
  auto s = wait_for(*col, RFAB_DIR_INGRESS, p.frames.size());
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].roce_packets, p.not_roce);
  EXPECT_EQ(s.totals[RFAB_DIR_INGRESS].not_roce, p.roce_packets + p.malformed);
}

TEST_F(TelemetryCollectorLimits, BadInterfaceAndBadConfigAreClearErrors) {
  auto expect_error = [](tm::CollectorConfig cfg, const std::string& text) {
    try {
      tm::Collector::open(cfg);
      ADD_FAILURE() << "opened";
    } catch (const tm::TelemetryError& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error(config("rft-nope", tm::Hook::xdp), "no network interface named 'rft-nope'");
  auto cfg = config("rft0b", tm::Hook::xdp);
  cfg.ringbuf_bytes = 5000;
  expect_error(cfg, "power of two");
  cfg = config("rft0b", tm::Hook::xdp);
  cfg.flow_map_entries = 0;
  expect_error(cfg, "flow map");
  cfg = config("rft0b", tm::Hook::xdp);
  cfg.hole_timeout_ns = 120'000'000'000ull;
  expect_error(cfg, "hole timeout 120000 ms is above the 60 s");
  // Unset in the configuration: the environment's, checked the same way.
  cfg.hole_timeout_ns.reset();
  {
    rfab::env::ScopedLookup env(std::map<std::string, std::string>{{"RFAB_TELEMETRY_HOLE_TIMEOUT", "soon"}});
    expect_error(cfg, "RFAB_TELEMETRY_HOLE_TIMEOUT='soon'");
  }
  {
    rfab::env::ScopedLookup env(std::map<std::string, std::string>{{"RFAB_TELEMETRY_HOLE_TIMEOUT", "61s"}});
    expect_error(cfg, "is above the 60 s");
  }
}

}  // namespace
}  // namespace rfab::test
