#include <gtest/gtest.h>

#include "rfab/telemetry/psn_window.hpp"
#include "rfab/telemetry/validate.hpp"

namespace rfab::telemetry {
namespace {

Measurement ten_gbps_clean() {
  Measurement m;
  m.seconds = 2;
  m.bytes[RFAB_DIR_EGRESS] = 2'500'000'000;  // 10 Gbit/s over 2 s
  m.bytes[RFAB_DIR_INGRESS] = 1'000;
  m.roce_packets = 1'000'000;
  m.request_packets = 990'000;
  return m;
}

TEST(TelemetryValidate, PassesWhenEveryGateHolds) {
  Gate g;
  g.min_gbps = 9.5;
  auto v = evaluate(g, ten_gbps_clean());
  EXPECT_TRUE(v.pass);
  EXPECT_TRUE(v.reasons.empty());
  EXPECT_DOUBLE_EQ(ten_gbps_clean().gbps(), 10.0);
}

TEST(TelemetryValidate, EachGateFailsWithItsReason) {
  Gate g;
  g.min_gbps = 20;
  g.max_naks = 0;
  g.max_cnps = 1;
  Measurement m = ten_gbps_clean();
  m.lost = 10'000;
  m.naks = 3;
  m.cnps = 2;
  m.flow_map_full = 7;
  auto v = evaluate(g, m);
  EXPECT_FALSE(v.pass);
  ASSERT_EQ(v.reasons.size(), 5u);
  EXPECT_EQ(v.reasons[0], "throughput 10.000 Gbit/s < required 20.000 Gbit/s");
  EXPECT_EQ(v.reasons[1], "loss 0.01 (10000 of 1000000 request packets never arrived) > allowed 0");
  EXPECT_EQ(v.reasons[2], "NAKs 3 > allowed 0");
  EXPECT_EQ(v.reasons[3], "CNPs 2 > allowed 1");
  EXPECT_NE(v.reasons[4].find("flow map full"), std::string::npos);
}

TEST(TelemetryValidate, LossToleranceAndLineRate) {
  Gate g;
  g.min_line_rate = 0.95;
  g.max_loss = 0.02;
  Measurement m = ten_gbps_clean();
  m.lost = 10'000;  // 1%
  m.line_gbps = 10.0;
  EXPECT_TRUE(evaluate(g, m).pass);
  m.line_gbps = 100.0;
  auto v = evaluate(g, m);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "throughput 10.000 Gbit/s < 95.0% of line rate 100.000 Gbit/s");
  m.line_gbps.reset();
  v = evaluate(g, m);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_NE(v.reasons[0].find("line rate unknown"), std::string::npos);
}

TEST(TelemetryValidate, MeasureTakesDifferencesBetweenSnapshots) {
  CollectorSnapshot a, b;
  a.taken = std::chrono::steady_clock::time_point(std::chrono::seconds(100));
  b.taken = a.taken + std::chrono::seconds(4);
  a.totals[RFAB_DIR_INGRESS].roce_bytes = 1000;
  b.totals[RFAB_DIR_INGRESS].roce_bytes = 1000 + 5'000'000'000ull;  // 10 Gbit/s
  a.totals[RFAB_DIR_INGRESS].lost = 5;
  b.totals[RFAB_DIR_INGRESS].lost = 7;
  b.totals[RFAB_DIR_INGRESS].naks = 1;
  FlowRecord f;
  f.stats.op_class[RFAB_OPC_SEND] = 10;
  a.flows.push_back(f);
  f.stats.op_class[RFAB_OPC_SEND] = 108;
  f.stats.op_class[RFAB_OPC_ACK] = 50;  // responses are not requests
  b.flows.push_back(f);
  Measurement m = measure(a, b);
  EXPECT_DOUBLE_EQ(m.seconds, 4);
  EXPECT_DOUBLE_EQ(m.gbps(), 10);
  EXPECT_EQ(m.lost, 2u);
  EXPECT_EQ(m.request_packets, 98u);
  EXPECT_EQ(m.naks, 1u);
  EXPECT_DOUBLE_EQ(m.loss(), 0.02);
}

// A hole open when the measurement ends and still open a settle time later never arrived: lost. One
// opened during the settle time is outstanding (traffic still running), and one filled is reordering.
TEST(TelemetryValidate, HolesStillOpenAfterTheSettleTimeAreLost) {
  CollectorSnapshot before, after, settled;
  after.taken = before.taken + std::chrono::seconds(1);
  settled.taken = after.taken + std::chrono::milliseconds(200);
  PsnWindow w;
  for (uint32_t psn = 90; psn < 100; ++psn)
    if (psn != 98 && psn != 96) w.step(psn, 0);  // PSNs 98 and 96 missing
  FlowRecord f;
  f.key.qp = 1;
  f.window = w.state();
  after.flows.push_back(f);
  w.step(101, 0);  // 98 and 96 still missing, 100 new
  f.window = w.state();
  settled.flows.push_back(f);
  settled.totals[RFAB_DIR_INGRESS].lost = 5;
  settled.totals[RFAB_DIR_INGRESS].reordered = 9;
  Measurement m = measure(before, after, &settled);
  EXPECT_EQ(m.lost, 5u + 2u);
  EXPECT_EQ(m.outstanding, 1u);
  EXPECT_EQ(m.reordered, 9u);
  // Without a settled snapshot every open hole is outstanding, none lost.
  m = measure(before, after);
  EXPECT_EQ(m.lost, 0u);
  EXPECT_EQ(m.outstanding, 0u) << "FlowRecord::outstanding is what the collector computed (0 here)";
}

}  // namespace
}  // namespace rfab::telemetry
