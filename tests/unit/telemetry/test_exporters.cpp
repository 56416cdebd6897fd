#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "prom_parse.hpp"
#include "rfab/telemetry/duration.hpp"
#include "rfab/telemetry/json_lines.hpp"
#include "rfab/telemetry/prometheus.hpp"

namespace rfab::telemetry {
namespace {

Metrics sample_metrics() {
  Metrics m;
  m.add("rfab_roce_packets_total", "RoCE v2 packets per flow", MetricType::counter,
        {{"iface", "eth0"}, {"src", "10.0.0.1"}, {"qp", "17"}}, 12345678901234.0);
  m.add("rfab_roce_packets_total", "RoCE v2 packets per flow", MetricType::counter,
        {{"iface", "eth0"}, {"src", "fd00::1"}, {"qp", "18"}}, 0);
  m.add("rfab_flow_map_entries", "flows \\ tracked\nnow", MetricType::gauge, {{"iface", "we\"ird\\name\n"}}, 2.5);
  return m;
}

TEST(TelemetryPrometheus, RendersValidExpositionWithEscapes) {
  std::string text = render_prometheus(sample_metrics());
  auto s = rfab::test::parse_prometheus(text);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(rfab::test::prom_value(s, "rfab_roce_packets_total", {{"qp", "17"}}), 12345678901234.0);
  EXPECT_EQ(rfab::test::prom_value(s, "rfab_flow_map_entries", {}), 2.5);
  EXPECT_NE(text.find("# TYPE rfab_roce_packets_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE rfab_flow_map_entries gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP rfab_flow_map_entries flows \\\\ tracked\\nnow\n"), std::string::npos);
  EXPECT_NE(text.find(R"(iface="we\"ird\\name\n")"), std::string::npos) << text;
  EXPECT_NE(text.find(" 12345678901234\n"), std::string::npos) << "counters print as exact integers";
}

TEST(TelemetryPrometheus, ParserRejectsBrokenText) {
  EXPECT_THROW(rfab::test::parse_prometheus("x 1\n"), std::runtime_error);  // no TYPE
  EXPECT_THROW(rfab::test::parse_prometheus("# TYPE x counter\nx{a=\"1} 1\n"), std::runtime_error);
  EXPECT_THROW(rfab::test::parse_prometheus("# TYPE x counter\nx one\n"), std::runtime_error);
}

TEST(TelemetryMetrics, RejectsInvalidNamesAndTypeClashes) {
  Metrics m;
  EXPECT_THROW(m.add("9lives", "", MetricType::counter, {}, 1), std::invalid_argument);
  EXPECT_THROW(m.add("ok", "", MetricType::counter, {{"bad-label", "x"}}, 1), std::invalid_argument);
  EXPECT_THROW(m.add("ok2", "", MetricType::counter, {{"__reserved", "x"}}, 1), std::invalid_argument);
  m.add("ok3", "", MetricType::counter, {}, 1);
  EXPECT_THROW(m.add("ok3", "", MetricType::gauge, {}, 1), std::invalid_argument);
}

TEST(TelemetryJsonLines, OneObjectPerLineWithExactCounters) {
  std::string line = render_json_line(sample_metrics(), 1700000000123);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts_ms"], 1700000000123u);
  const auto& pk = j["metrics"]["rfab_roce_packets_total"];
  ASSERT_EQ(pk.size(), 2u);
  EXPECT_EQ(pk[0]["value"].get<uint64_t>(), 12345678901234u);
  EXPECT_EQ(pk[1]["labels"]["src"], "fd00::1");
  EXPECT_EQ(j["metrics"]["rfab_flow_map_entries"][0]["value"].get<double>(), 2.5);
}

TEST(TelemetryPrometheus, ListenAddressParsing) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464"), (std::pair<std::string, uint16_t>{"127.0.0.1", 9464}));
  EXPECT_EQ(parse_listen_address("[::1]:80"), (std::pair<std::string, uint16_t>{"::1", 80}));
  EXPECT_THROW(parse_listen_address("9464"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("host:"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("host:99999"), std::invalid_argument);
  EXPECT_THROW(parse_listen_address("host:9x"), std::invalid_argument);
}

TEST(TelemetryPrometheus, ServerServesWhatWasPublishedOnLoopback) {
  PrometheusServer server("127.0.0.1", 0);  // any free port
  ASSERT_GT(server.port(), 0);
  httplib::Client c("127.0.0.1", server.port());
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(2, 0);
  // Before anything is published, a scrape is told "not ready", not handed an empty exposition.
  auto early = c.Get("/metrics");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503);
  server.publish(render_prometheus(sample_metrics()));
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(rfab::test::parse_prometheus(res->body).size(), 3u);
  // A second server on the same port is refused with a clear error.
  try {
    PrometheusServer again("127.0.0.1", server.port());
    FAIL() << "bound twice";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:"), std::string::npos);
  }
}

TEST(TelemetryDuration, ParsesUnitsAndRejectsJunk) {
  using namespace std::chrono;
  EXPECT_EQ(parse_duration("10s"), seconds(10));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_THROW(parse_duration("1.5"), std::invalid_argument);  // a unit is required (docs/units.md)
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("2m"), minutes(2));
  EXPECT_EQ(parse_duration("40us"), microseconds(40));
  EXPECT_THROW(parse_duration("soon"), std::invalid_argument);
  EXPECT_THROW(parse_duration("-1s"), std::invalid_argument);
  EXPECT_THROW(parse_duration("3 parsecs"), std::invalid_argument);
}

}  // namespace
}  // namespace rfab::telemetry
