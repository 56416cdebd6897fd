#include <gtest/gtest.h>

#include <cstring>

#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/flow_metrics.hpp"
#include "rfab/telemetry/psn_window.hpp"
#include "rfab/telemetry/table.hpp"

namespace rfab::telemetry {
namespace {

FlowRecord flow_v4() {
  FlowRecord f;
  f.key.family = 4;
  f.key.src[10] = f.key.src[11] = 0xFF;
  f.key.dst[10] = f.key.dst[11] = 0xFF;
  const uint8_t s[4] = {10, 0, 0, 1}, d[4] = {10, 0, 0, 2};
  std::memcpy(f.key.src + 12, s, 4);
  std::memcpy(f.key.dst + 12, d, 4);
  f.key.qp = 0x11;
  f.key.dir = RFAB_DIR_EGRESS;
  f.stats.packets = 100;
  f.stats.bytes = 6400;
  f.stats.op_class[RFAB_OPC_SEND] = 90;
  f.stats.op_class[RFAB_OPC_CNP] = 10;
  f.stats.cnps = 10;
  f.stats.naks[RFAB_NAK_RNR] = 2;
  f.stats.lost = 4;
  f.stats.reordered = 3;
  f.stats.reorder_hist[1] = 3;
  f.entropies = {{0xC001, 60}, {0xC002, 40}};
  f.outstanding = 2;
  return f;
}

TEST(TelemetryAddr, FormatsBothFamilies) {
  auto f = flow_v4();
  EXPECT_EQ(format_addr(f.key.src, 4), "10.0.0.1");
  uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  EXPECT_EQ(format_addr(v6, 6), "fd00::2");
}

TEST(TelemetryFlowMetrics, OneSeriesPerFlowWithTheDocumentedLabels) {
  CollectorSnapshot s;
  s.flows.push_back(flow_v4());
  s.totals[RFAB_DIR_EGRESS].roce_packets = 100;
  s.flow_map_entries = 1024;
  Metrics m;
  add_flow_metrics(m, "eth0", s);
  const auto* pk = m.find("rfab_roce_packets_total");
  ASSERT_NE(pk, nullptr);
  ASSERT_EQ(pk->samples.size(), 1u);
  Labels want{{"iface", "eth0"}, {"src", "10.0.0.1"}, {"dst", "10.0.0.2"}, {"qp", "17"}, {"dir", "tx"}};
  EXPECT_EQ(pk->samples[0].labels, want);
  EXPECT_EQ(pk->samples[0].value, 100);
  const auto* op = m.find("rfab_roce_opcode_packets_total");
  ASSERT_NE(op, nullptr);
  ASSERT_EQ(op->samples.size(), 2u) << "only classes seen";
  EXPECT_EQ(op->samples[1].labels.back(), (std::pair<std::string, std::string>{"class", "cnp"}));
  const auto* nak = m.find("rfab_roce_nak_total");
  ASSERT_NE(nak, nullptr);
  EXPECT_EQ(nak->samples[0].labels.back().second, "rnr");
  const auto* tot = m.find("rfab_iface_roce_packets_total");
  ASSERT_NE(tot, nullptr);
  ASSERT_EQ(tot->samples.size(), 2u);  // rx and tx
  EXPECT_EQ(tot->samples[1].value, 100);
  EXPECT_EQ(m.find("rfab_flow_map_capacity")->samples[0].value, 1024);
  // PSN window and entropy counters
  EXPECT_EQ(m.find("rfab_roce_lost_packets_total")->samples[0].value, 4);
  EXPECT_EQ(m.find("rfab_roce_reordered_packets_total")->samples[0].value, 3);
  EXPECT_EQ(m.find("rfab_roce_psn_outstanding")->type, MetricType::gauge);
  EXPECT_EQ(m.find("rfab_roce_psn_outstanding")->samples[0].value, 2);
  const auto* hist = m.find("rfab_roce_reorder_distance_packets_total");
  ASSERT_NE(hist, nullptr);
  ASSERT_EQ(hist->samples.size(), 1u) << "only distances seen";
  EXPECT_EQ(hist->samples[0].labels.back(), (std::pair<std::string, std::string>{"distance", "2-3"}));
  const auto* ent = m.find("rfab_roce_entropy_packets_total");
  ASSERT_NE(ent, nullptr);
  ASSERT_EQ(ent->samples.size(), 2u);
  EXPECT_EQ(ent->samples[0].labels.back(), (std::pair<std::string, std::string>{"sport", "49153"}));
  EXPECT_EQ(ent->samples[1].value, 40);
  EXPECT_EQ(m.find("rfab_iface_psn_outstanding")->samples[1].value, 2);  // tx
}

TEST(TelemetryPsnWindow, EntropyTablesMergeByPortAndHolesReadBack) {
  rfab_flow_stats s{};
  auto word = [](uint16_t port, uint64_t n) { return (uint64_t{port} + 1) << RFAB_ENTROPY_PORT_SHIFT | n; };
  s.entropy[3] = word(0xC003, 10);
  s.entropy[4] = word(0xC013, 5);  // probed past a taken home slot
  s.foreign_entropy[3] = word(0xC003, 7);
  auto e = merge_entropy(s);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].port, 0xC003);
  EXPECT_EQ(e[0].packets, 17u);
  EXPECT_EQ(e[1].port, 0xC013);
  // Highest PSN 0 after a wrap, PSNs 0xFFFFFF and 0xFFFF02 (the window's lowest) never arrived.
  PsnWindow w;
  EXPECT_EQ(outstanding_holes(w.state()), 0u) << "no state yet";
  w.step(0xFFFF01, 0);
  w.step(0xFFFF03, 0);
  for (uint32_t psn = 0xFFFF04; psn != 1; psn = (psn + 1) & 0xFFFFFF)
    if (psn != 0xFFFFFF) w.step(psn, 0);
  EXPECT_EQ(outstanding_holes(w.state()), 2u);
  EXPECT_EQ(open_hole_psns(w.state()), (std::vector<uint32_t>{0xFFFFFF, 0xFFFF02}));
}

TEST(TelemetryTable, ShowsLostReorderedAndSourcePorts) {
  CollectorSnapshot s;
  s.flows.push_back(flow_v4());
  s.totals[RFAB_DIR_EGRESS].lost = 4;
  s.totals[RFAB_DIR_EGRESS].reordered = 3;
  std::string t = render_table("eth0", s, nullptr);
  EXPECT_NE(t.find("lost 4  reordered 3  outstanding 2"), std::string::npos) << t;
  EXPECT_NE(t.find("40..60%"), std::string::npos) << t;
}

TEST(TelemetryTable, ShowsTotalsAndFlowRates) {
  CollectorSnapshot a, b;
  a.taken = std::chrono::steady_clock::time_point(std::chrono::seconds(10));
  b.taken = a.taken + std::chrono::seconds(2);
  auto f = flow_v4();
  a.flows.push_back(f);
  f.stats.packets += 2000;  // 1000 pkt/s
  b.flows.push_back(f);
  std::string t = render_table("eth0", b, &a);
  EXPECT_NE(t.find("eth0 tx: frames 0"), std::string::npos) << t;
  EXPECT_NE(t.find("10.0.0.1"), std::string::npos);
  EXPECT_NE(t.find(" 1000 "), std::string::npos) << t;
}

}  // namespace
}  // namespace rfab::telemetry
