// rfab's metrics in a real Prometheus (Debian's /usr/bin/prometheus), on the two-path fabric: path 0 marks
// ECN-CE on a virtual queue, path 1 drops 1% seeded. `rfab collect` (tc on B's link) and
// `rfab ping --continuous` (in A and B) export; Prometheus, inside B's namespace with a 1 s scrape interval,
// scrapes both while `rfab perf` sprays a WRITE stream A -> B. Once the traffic is over and the counters
// still, every checked series - RoCE packets, ECN-CE, PSN loss, ping probes, ping loss, ping round trips -
// must read in Prometheus's query API exactly what rfab's own /metrics and `rfab ping --json` said, and the
// ECN-CE count what the switch port marked. Then the Grafana dashboard (telemetry/grafana): every PromQL
// expression in it names only metrics the two exporters produced here and is accepted by Prometheus.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "netns.hpp"
#include "ping_run.hpp"
#include "twopath_fabric.hpp"

namespace {
using namespace std::chrono_literals;
using nlohmann::json;
using rfab::systest::Child;
using rfab::systest::TwoPathFabric;

constexpr int kCollectPort = 19464, kPingPort = 19465, kPromPort = 19090;

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string http_get(const std::string& ns, int port, const std::string& path) {
  int code = 0;
  return rfab::systest::run_capture("ip netns exec " + ns + " curl -s --max-time 3 http://127.0.0.1:" +
                                        std::to_string(port) + path,
                                    code);
}

// Prometheus's HTTP query API: the whole answer.
json prom_query(const std::string& ns, const std::string& expr) {
  int code = 0;
  const std::string out = rfab::systest::run_capture(
      "ip netns exec " + ns + " curl -s --max-time 3 http://127.0.0.1:" + std::to_string(kPromPort) +
          "/api/v1/query --data-urlencode " + sh_quote("query=" + expr),
      code);
  return json::parse(out, nullptr, false);
}

std::optional<double> prom_value(const std::string& ns, const std::string& expr) {
  const json j = prom_query(ns, expr);
  if (!j.is_object() || j.value("status", "") != "success") return std::nullopt;
  const auto& r = j["data"]["result"];
  if (!r.is_array() || r.empty()) return std::nullopt;
  return std::stod(r[0]["value"][1].get<std::string>());
}

// Sum of the samples of `name` in exposition `text` whose labels contain every `need` ("dir=\"rx\"").
double exposition_sum(const std::string& text, const std::string& name, const std::vector<std::string>& need) {
  double sum = 0;
  std::istringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    bool all = true;
    for (const auto& n : need) all &= line.find(n) != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::set<std::string> exported_names(const std::string& text) {
  std::set<std::string> out;
  std::istringstream ss(text);
  for (std::string line; std::getline(ss, line);)
    if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
  return out;
}

// Polls Prometheus until `expr` reads `want` (a scrape after the counters stopped), or 15 s.
void expect_in_prometheus(const std::string& ns, const std::string& expr, double want) {
  std::optional<double> got;
  for (auto until = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(250ms)) {
    got = prom_value(ns, expr);
    if (got && std::fabs(*got - want) <= 1e-9 * std::max(1.0, std::fabs(want))) return;
  }
  ADD_FAILURE() << expr << ": Prometheus has " << (got ? std::to_string(*got) : std::string("nothing")) << ", rfab reported "
                << want;
}

TEST(RealPrometheus, ScrapesWhatRfabReportsAndTheDashboardUsesOnlyExportedMetrics) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  if (!std::filesystem::exists("/usr/bin/prometheus")) GTEST_SKIP() << "Debian's prometheus is not installed";
  TwoPathFabric f;
  f.port(0, {"--vq-rate", "1gbit", "--mark-threshold", "32k"});
  f.port(1, {"--drop", "1%", "--seed", "7"});

  const std::string dir = "/tmp/" + f.name + "-prom";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/data");
  std::ofstream(dir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n"
                                         << "  - job_name: rfab-collect\n    static_configs:\n      - targets: ['127.0.0.1:"
                                         << kCollectPort << "']\n  - job_name: rfab-ping\n    static_configs:\n"
                                         << "      - targets: ['127.0.0.1:" << kPingPort << "']\n";
  std::ofstream(dir + "/hosts") << f.ip_a << "\n" << f.ip_b << "\n";
  const std::string rfab = rfab::systest::rfab_binary();
  Child prom(f.ns_b, {"prometheus", "--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
                      "--web.listen-address=127.0.0.1:" + std::to_string(kPromPort), "--log.level=warn"},
             dir + "/prometheus.log");
  Child collect(f.ns_b, {rfab, "collect", "--iface", "b0", "--hook", "tc", "--interval", "100ms", "--prometheus",
                         "127.0.0.1:" + std::to_string(kCollectPort)},
                dir + "/collect.log");
  const std::vector<std::string> ping{rfab, "ping", "--hosts", dir + "/hosts", "--continuous", "--count", "30",
                                      "--entropies", "8", "--json", "--duration", "60s",
                                      "--roce-port", "4792"};  // rfab perf holds 4791
  Child ping_a(f.ns_a, ping, dir + "/ping-a.log");
  auto ping_b_args = ping;
  ping_b_args.insert(ping_b_args.end(), {"--prometheus", "127.0.0.1:" + std::to_string(kPingPort)});
  Child ping_b(f.ns_b, ping_b_args, dir + "/ping-b.log");
  // The collector attached and publishing before the traffic starts, so it sees all of it.
  for (auto until = std::chrono::steady_clock::now() + 15s;
       std::chrono::steady_clock::now() < until && http_get(f.ns_b, kCollectPort, "/metrics").find("# TYPE rfab_") == std::string::npos;)
    std::this_thread::sleep_for(100ms);

  const auto perf = f.perf("write", {"-s", "256K", "-n", "200", "--spray", "8", "-q", "2"});
  ASSERT_EQ(perf.client_rc, 0) << perf.client_out;

  // The ping agent's final row (it printed probing_done once its 30 rounds were in).
  json row;
  for (auto until = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(200ms)) {
    row = rfab::systest::last_json(ping_b.output());
    if (row.is_object() && row.value("probing_done", false)) break;
  }
  ASSERT_TRUE(row.is_object() && row.value("probing_done", false)) << ping_b.output();
  std::this_thread::sleep_for(1s);  // collect's next intervals publish the final counters; holes age out
  const std::string collect_text = http_get(f.ns_b, kCollectPort, "/metrics");
  const std::string ping_text = http_get(f.ns_b, kPingPort, "/metrics");
  ASSERT_NE(collect_text.find("rfab_roce_packets_total"), std::string::npos) << collect_text << collect.output();
  ASSERT_NE(ping_text.find("rfab_ping_probes_total"), std::string::npos) << ping_text;

  // rfab collect: packets, ECN-CE and PSN loss on B's link, as its /metrics says them.
  const double rx_packets = exposition_sum(collect_text, "rfab_iface_roce_packets_total", {"dir=\"rx\""});
  const double ce = exposition_sum(collect_text, "rfab_iface_ecn_ce_total", {"dir=\"rx\""});
  const double lost = exposition_sum(collect_text, "rfab_iface_lost_packets_total", {"dir=\"rx\""});
  EXPECT_GT(rx_packets, 200.0 * 256 * 1024 / 4096);
  EXPECT_EQ(ce, static_cast<double>(f.forward(0).ce_marked)) << "the collector's CE count is the switch port's marks";
  EXPECT_GT(ce, 0) << f.dump();
  expect_in_prometheus(f.ns_b, "sum(rfab_iface_roce_packets_total{job=\"rfab-collect\",iface=\"b0\",dir=\"rx\"})", rx_packets);
  expect_in_prometheus(f.ns_b, "sum(rfab_iface_ecn_ce_total{iface=\"b0\",dir=\"rx\"})", ce);
  expect_in_prometheus(f.ns_b, "sum(rfab_iface_lost_packets_total{iface=\"b0\",dir=\"rx\"})", lost);
  expect_in_prometheus(f.ns_b, "sum(rfab_roce_ecn_ce_total{iface=\"b0\"})",
                       exposition_sum(collect_text, "rfab_roce_ecn_ce_total", {}));

  std::cout << "collect b0 rx: " << rx_packets << " RoCE packets, " << ce << " ECN-CE (switch port marked "
            << f.forward(0).ce_marked << "), " << lost << " lost (switch port dropped " << f.forward(1).dropped << ")\n";
  // rfab ping: B's row as its --json printed it.
  const json* ba = nullptr;
  for (const auto& p : row["pairs"])
    if (p["src_host"] == f.ip_b && p["dst_host"] == f.ip_a) ba = &p;
  ASSERT_NE(ba, nullptr) << row.dump();
  const std::string sel = "{src=\"" + f.ip_b + "\",dst=\"" + f.ip_a + "\"";
  EXPECT_LE((*ba)["sent"], 240u);  // 30 rounds x 8 entropies, less the rounds whose previous probe was still out
  EXPECT_GE((*ba)["sent"], 120u);
  for (const auto& e : (*ba)["entropies"]) EXPECT_EQ(e["failed"], 0u) << "no round before the peer answered counts";
  expect_in_prometheus(f.ns_b, "sum(rfab_ping_probes_total" + sel + "})", (*ba)["sent"].get<double>());
  expect_in_prometheus(f.ns_b, "sum(rfab_ping_lost_total" + sel + "})", (*ba)["lost"].get<double>());
  for (const auto& e : (*ba)["entropies"])
    expect_in_prometheus(f.ns_b, "rfab_ping_lost_total" + sel + ",sport=\"" + std::to_string(e["src_port"].get<int>()) + "\"}",
                         e["lost"].get<double>());
  expect_in_prometheus(f.ns_b, "rfab_ping_rtt_seconds" + sel + ",quantile=\"0.5\"}", (*ba)["rtt"]["p50_us"].get<double>() / 1e6);
  expect_in_prometheus(f.ns_b, "rfab_ping_rtt_seconds" + sel + ",quantile=\"0.99\"}", (*ba)["rtt"]["p99_us"].get<double>() / 1e6);
  expect_in_prometheus(f.ns_b, "rfab_ping_rtt_seconds" + sel + ",quantile=\"1\"}", (*ba)["rtt"]["max_us"].get<double>() / 1e6);

  uint64_t resent = 0, late = 0, failed = 0;
  for (const auto& e : (*ba)["entropies"]) {
    resent += e["resent"].get<uint64_t>();
    late += e["late"].get<uint64_t>();
    failed += e["failed"].get<uint64_t>();
  }
  std::cout << "ping " << f.ip_b << " -> " << f.ip_a << ": " << (*ba)["sent"] << " probes, " << (*ba)["lost"] << " lost (resent "
            << resent << ", late " << late << ", failed " << failed << "), rtt " << (*ba)["rtt"].dump() << "\n";
  // The dashboard: its metric names come from the exporters' own output above, not from a list.
  std::set<std::string> names = exported_names(collect_text);
  for (const auto& n : exported_names(ping_text)) names.insert(n);
  std::ifstream df(std::string(RFAB_SOURCE_DIR) + "/telemetry/grafana/rfab-dashboard.json");
  const json dash = json::parse(df, nullptr, false);
  ASSERT_TRUE(dash.is_object()) << "the dashboard is not JSON";
  std::vector<std::string> exprs;
  for (const auto& p : dash["panels"])
    for (const auto& t : p["targets"]) exprs.push_back(t["expr"]);
  for (const auto& v : dash["templating"]["list"])
    if (v.contains("definition")) exprs.push_back(v["definition"]);
  ASSERT_GE(exprs.size(), 8u);
  const std::regex metric(R"(rfab_[a-z0-9_]+)");
  std::this_thread::sleep_for(2500ms);  // two more scrapes: rate() and increase() need two samples of a series
  size_t with_data = 0;
  for (const std::string& e : exprs) {
    size_t found = 0;
    for (auto it = std::sregex_iterator(e.begin(), e.end(), metric); it != std::sregex_iterator(); ++it, ++found)
      EXPECT_TRUE(names.count(it->str())) << it->str() << " in \"" << e << "\" is not a metric rfab exports";
    EXPECT_GT(found, 0u) << "\"" << e << "\" names no rfab metric";
    if (e.rfind("label_values(", 0) == 0) continue;  // Grafana's own function, not PromQL
    std::string q = std::regex_replace(e, std::regex(R"(\$__rate_interval)"), "1m");
    q = std::regex_replace(q, std::regex(R"(\$iface)"), ".*");
    const json ans = prom_query(f.ns_b, q);
    EXPECT_EQ(ans.value("status", ""), "success") << q << "\n" << ans.dump();
    const bool data = ans.value("status", "") == "success" && !ans["data"]["result"].empty();
    with_data += data;
    if (!data) std::cout << "no data (yet) for " << q << "\n";
  }
  EXPECT_GE(with_data, exprs.size() / 2) << "most panels should show data for this traffic";
  std::filesystem::remove_all(dir);
}

}  // namespace
