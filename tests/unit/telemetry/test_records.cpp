// The records reader of `rfab validate --from` on small hand-made files: the window, what is summed, and
// the fabric scope. (Files written by the emulator and the collector: tests/unit/cli/test_emu_records.cpp.)
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "rfab/telemetry/records.hpp"

namespace rfab::telemetry {
namespace {

// One metrics record: NIC eth0 with rx/tx bytes, one flow received (write requests) and one sent.
std::string record(uint64_t ts_ms, uint64_t rx_bytes, uint64_t tx_bytes, uint64_t rx_requests, uint64_t tx_requests,
                   uint64_t lost, const std::string& extra = "") {
  auto s = [](uint64_t v) { return std::to_string(v); };
  return "{\"ts_ms\":" + s(ts_ms) + extra + ",\"metrics\":{" +
         R"("rfab_iface_roce_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":)" + s(rx_requests) +
         R"(},{"labels":{"iface":"eth0","dir":"tx"},"value":)" + s(tx_requests) + "}]," +
         R"("rfab_iface_roce_bytes_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":)" + s(rx_bytes) +
         R"(},{"labels":{"iface":"eth0","dir":"tx"},"value":)" + s(tx_bytes) + "}]," +
         R"("rfab_iface_lost_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":)" + s(lost) + "}]," +
         R"("rfab_roce_opcode_packets_total":[)" +
         R"({"labels":{"iface":"eth0","src":"10.0.0.1","dst":"10.0.0.2","qp":"5","dir":"rx","class":"write"},"value":)" +
         s(rx_requests) + "}," +
         R"({"labels":{"iface":"eth0","src":"10.0.0.2","dst":"10.0.0.1","qp":"9","dir":"tx","class":"send"},"value":)" +
         s(tx_requests) + "}]}}\n";
}

Measurement read(const std::string& text) {
  std::istringstream in(text);
  return measure_records(in, "t.jsonl");
}

TEST(Records, WindowIsFirstToLastMetricsRecordEventsSkipped) {
  const Measurement m = read(record(1000, 100, 50, 10, 4, 0) +
                             R"({"event":"psn_lost","iface":"eth0","dir":"rx","qp":5,"psn":7})" "\n" +
                             record(1500, 200, 60, 15, 6, 1) + "\n" + record(3000, 1'000'100, 2050, 40, 9, 2));
  EXPECT_DOUBLE_EQ(m.seconds, 2.0);
  EXPECT_EQ(m.bytes[RFAB_DIR_INGRESS], 1'000'000u);
  EXPECT_EQ(m.bytes[RFAB_DIR_EGRESS], 2000u);
  EXPECT_DOUBLE_EQ(m.gbps(), 1e6 * 8 / 2.0 / 1e9);  // the busier direction
  EXPECT_EQ(m.request_packets, 30u);                 // received requests only (the sent QP's are not)
  EXPECT_EQ(m.lost, 2u);
  EXPECT_NEAR(m.loss(), 2.0 / 32.0, 1e-12);
  EXPECT_FALSE(m.line_gbps);
  EXPECT_FALSE(m.received_only);
}

TEST(Records, FabricScopeGatesWhatWasReceivedAndNanosecondsWin) {
  const std::string speed = R"(,"scope":"fabric")";
  std::string a = record(0, 0, 0, 0, 0, 0, R"(,"ts_ns":0)" + speed);
  std::string b = record(0, 1000, 4000, 8, 8, 0, R"(,"ts_ns":4000)" + speed);
  // Add a link speed of 4 Gbit/s to the end record.
  b.insert(b.find("\"metrics\":{") + 11, R"("rfab_iface_speed_bps":[{"labels":{"iface":"eth0"},"value":4e9}],)");
  const Measurement m = read(a + b);
  EXPECT_DOUBLE_EQ(m.seconds, 4e-6);
  EXPECT_TRUE(m.received_only);
  EXPECT_DOUBLE_EQ(m.gbps(), 1000 * 8 / 4e-6 / 1e9);  // rx, though tx is larger
  ASSERT_TRUE(m.line_gbps);
  EXPECT_DOUBLE_EQ(*m.line_gbps, 4.0);
}

TEST(Records, CountersThatWentBackwardsCountZero) {
  const Measurement m = read(record(1000, 500, 500, 10, 10, 5) + record(2000, 100, 100, 2, 2, 1));
  EXPECT_EQ(m.bytes[RFAB_DIR_INGRESS], 0u);
  EXPECT_EQ(m.lost, 0u);
  EXPECT_EQ(m.request_packets, 0u);
}

TEST(Records, ErrorsNameFileAndLine) {
  EXPECT_THROW(read(""), RecordsError);
  try {
    read(record(1000, 0, 0, 0, 0, 0) + "{\"ts_ms\":2000,\"scope\":\"pod\",\"metrics\":{}}\n");
    FAIL();
  } catch (const RecordsError& e) {
    EXPECT_STREQ(e.what(), "t.jsonl:2: \"scope\" is not \"fabric\"");
  }
}

}  // namespace
}  // namespace rfab::telemetry
