// `rfab collect` and `rfab validate` as users run them: tshark agrees with the totals, the Prometheus
// endpoint serves valid exposition text, signals detach, missing capabilities give the clear error.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "prom_parse.hpp"
#include "rfab/telemetry/collector.hpp"
#include "roce_traffic.hpp"

namespace rfab::test {
namespace {

namespace tm = rfab::telemetry;
using namespace std::chrono_literals;

class TelemetryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!enter_test_netns(why)) GTEST_SKIP() << why;
  }
};

// The last JSON metrics line of `rfab collect --json` output.
nlohmann::json last_metrics(const std::string& out) {
  std::istringstream in(out);
  std::string line;
  nlohmann::json last;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("metrics")) last = j;
  }
  return last;
}

double json_value(const nlohmann::json& metrics, const std::string& name, const std::string& dir) {
  for (const auto& s : metrics.at(name))
    if (s.at("labels").at("dir") == dir) return s.at("value").get<double>();
  throw std::runtime_error("no " + name + " for " + dir);
}

TEST_F(TelemetryCli, TotalsEqualTsharkCountForTheSameRun) {
  for (const char* hook : {"xdp", "xdp-generic", "tc"}) {
    SCOPED_TRACE(hook);
    std::string pcap = "/tmp/rft-tshark-" + std::to_string(getpid()) + ".pcap";
    Child collect({rfab_binary(), "collect", "--iface", "rft0b", "--hook", hook, "--json", "--duration", "60s"});
    ASSERT_TRUE(collect.wait_for_stderr("attached to rft0b", 10s));
    Child tshark({"tshark", "-i", "rft0b", "-w", pcap, "-q"});
    // "Capturing on" comes before dumpcap has the socket open; "Capture started." after.
    ASSERT_TRUE(tshark.wait_for_stderr("Capture started", 20s)) << "tshark did not start";
    std::this_thread::sleep_for(300ms);
    Plan p = make_plan(20);
    inject("rft0a", p.frames);
    std::this_thread::sleep_for(500ms);
    auto tr = tshark.stop(SIGINT, 10s);
    auto cr = collect.stop(SIGINT, 10s);
    ASSERT_EQ(cr.rc, 0) << cr.err;
    EXPECT_NE(cr.err.find("detached from rft0b (signal)"), std::string::npos) << cr.err;
    auto count = run({"tshark", "-r", pcap, "-Y", "udp.dstport == 4791", "-T", "fields", "-e", "frame.number"}, 30s);
    unlink(pcap.c_str());
    ASSERT_EQ(count.rc, 0) << count.err;
    uint64_t tshark_frames = static_cast<uint64_t>(std::count(count.out.begin(), count.out.end(), '\n'));
    auto m = last_metrics(cr.out).at("metrics");
    double roce = json_value(m, "rfab_iface_roce_packets_total", "rx");
    double malformed = json_value(m, "rfab_iface_malformed_total", "rx");
    EXPECT_EQ(tshark_frames, p.roce_packets + p.malformed);
    EXPECT_EQ(static_cast<uint64_t>(roce + malformed), tshark_frames);
    EXPECT_EQ(static_cast<uint64_t>(roce), p.roce_packets);
  }
}

TEST_F(TelemetryCli, PrometheusEndpointServesParseableExposition) {
  const uint16_t port = static_cast<uint16_t>(20000 + getpid() % 20000);
  std::string addr = "127.0.0.1:" + std::to_string(port);
  Child collect({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "xdp-generic", "--prometheus", addr,
                 "--interval", "100ms", "--duration", "60s", "--json"});
  ASSERT_TRUE(collect.wait_for_stderr("attached to rft0b", 10s));
  Plan p = make_plan(12);
  inject("rft0a", p.frames);

  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(2, 0);
  std::vector<PromSample> samples;
  std::string body, content_type;
  auto end = std::chrono::steady_clock::now() + 10s;
  double roce = -1;
  while (std::chrono::steady_clock::now() < end) {
    auto res = cli.Get("/metrics");
    if (res && res->status == 200) {
      body = res->body;
      content_type = res->get_header_value("Content-Type");
      samples = parse_prometheus(body);  // throws (fails the test) on any malformed line
      roce = prom_value(samples, "rfab_iface_roce_packets_total", {{"iface", "rft0b"}, {"dir", "rx"}});
      if (roce == static_cast<double>(p.roce_packets)) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(roce, static_cast<double>(p.roce_packets)) << body;
  EXPECT_NE(content_type.find("version=0.0.4"), std::string::npos) << content_type;
  EXPECT_EQ(prom_value(samples, "rfab_roce_packets_total",
                       {{"iface", "rft0b"}, {"src", "10.77.0.1"}, {"dst", "10.77.0.2"}, {"qp", "256"}, {"dir", "rx"}}),
            12.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_reordered_packets_total", {{"qp", "512"}}), 3.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_lost_packets_total", {{"qp", "512"}}), 0.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_lost_packets_total", {{"qp", "528"}}), 2.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_psn_outstanding", {{"qp", "528"}}), 1.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_reorder_distance_packets_total", {{"qp", "512"}, {"distance", "8-15"}}), 2.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_entropy_packets_total", {{"qp", "528"}, {"sport", std::to_string(0xC101)}}),
            static_cast<double>(p.find("10.77.0.1", "10.77.0.2", 0x210)->entropy.at(0xC101)));
  EXPECT_EQ(prom_value(samples, "rfab_roce_nak_total", {{"qp", "768"}, {"syndrome", "psn_sequence_error"}}), 2.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_opcode_packets_total", {{"qp", "1536"}, {"class", "atomic"}}), 1.0);
  EXPECT_EQ(prom_value(samples, "rfab_roce_packets_total", {{"src", "fd00::1"}, {"qp", "1536"}}), 13.0);
  // netdev statistics are in the same model
  EXPECT_GE(prom_value(samples, "rfab_netdev_rx_packets_total", {{"iface", "rft0b"}}),
            static_cast<double>(p.frames.size()));

  auto r = collect.stop(SIGTERM, 10s);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("detached from rft0b (signal)"), std::string::npos) << r.err;
  // Detached: the interface has no XDP program any more, so a new collector attaches.
  EXPECT_NO_THROW(tm::Collector::open([] {
    tm::CollectorConfig c;
    c.iface = "rft0b";
    c.hook = tm::Hook::xdp_generic;
    return c;
  }()));
}

// Port 0 asks the kernel for a free port; the collector prints the one it bound, and it serves there.
TEST_F(TelemetryCli, PrometheusOnPortZeroPrintsTheBoundPort) {
  Child collect({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "xdp-generic", "--prometheus", "127.0.0.1:0",
                 "--interval", "100ms", "--duration", "30s"});
  ASSERT_TRUE(collect.wait_for_stderr("/metrics", 10s));
  const std::string err = collect.stderr_text();
  const std::string tag = "http://127.0.0.1:";
  const size_t at = err.find(tag);
  ASSERT_NE(at, std::string::npos) << err;
  const int port = std::atoi(err.c_str() + at + tag.size());
  ASSERT_GT(port, 0) << err;
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << "nothing serves on the printed port " << port;
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("rfab_iface_roce_packets_total"), std::string::npos);
  EXPECT_EQ(collect.stop(SIGTERM, 10s).rc, 0);
}

TEST_F(TelemetryCli, WithoutCapabilitiesTheErrorNamesWhatIsMissing) {
  auto r = run({"setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", rfab_binary(), "collect", "--iface", "rft0b",
                "--hook", "xdp", "--duration", "1s"},
               10s);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("missing: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON"), std::string::npos) << r.err;
  // Only CAP_BPF (and CAP_SYS_ADMIN, which also allows BPF) dropped: only CAP_BPF is named.
  r = run({"setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-sys_admin", "--", rfab_binary(), "validate", "--iface", "rft0b",
           "--min-gbps", "0", "--duration", "1s"},
          10s);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("missing: CAP_BPF ("), std::string::npos) << r.err;
}

TEST_F(TelemetryCli, ValidatePassesCleanTrafficAndFailsWithReasons) {
  auto validate = [](std::vector<std::string> extra, const Plan& p) {
    std::vector<std::string> argv{rfab_binary(), "validate", "--iface", "rft0b", "--hook", "tc", "--duration", "1500ms",
                                  "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Child v(argv);
    EXPECT_TRUE(v.wait_for_stderr("measuring rft0b", 10s));
    inject("rft0a", p.frames);
    return v.wait(15s);
  };
  Plan clean = make_clean_plan(4, 50, 1024);
  auto r = validate({"--min-gbps", "0", "--max-loss", "0", "--max-naks", "0", "--max-cnps", "0"}, clean);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["result"], "PASS");
  EXPECT_EQ(j["roce_packets"], 200);
  EXPECT_EQ(j["lost"], 0);

  r = validate({"--min-gbps", "1000"}, clean);
  ASSERT_EQ(r.rc, 1) << r.out << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["result"], "FAIL");
  ASSERT_EQ(j["reasons"].size(), 1u) << r.out;
  EXPECT_NE(j["reasons"][0].get<std::string>().find("throughput"), std::string::npos);

  // Two PSNs lost out of the window and one hole left open at the end (lost after the settle time), four
  // reordered packets, a duplicate, one below the window, four NAKs, ten CNPs.
  Plan lossy = make_plan(10);
  // The frames are injected by this process: a hole here is its reordering, so a stall of the injector on a
  // loaded machine (several ms under a sanitizer with other tests running) must not turn it into a late
  // arrival. A 1 s hole timeout leaves loss to the window and the settle time, which is what is checked.
  r = validate({"--min-gbps", "0", "--max-loss", "0", "--max-naks", "0", "--max-cnps", "5", "--hole-timeout", "1s"},
               lossy);
  ASSERT_EQ(r.rc, 1) << r.out << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["lost"], 3);
  EXPECT_EQ(j["reordered"], 4);
  EXPECT_EQ(j["reorder_distance_max"], 9);
  EXPECT_EQ(j["outstanding"], 0);
  EXPECT_EQ(j["duplicates"], 1);
  EXPECT_EQ(j["too_old"], 1);
  EXPECT_EQ(j["naks"], 4);
  EXPECT_EQ(j["cnps"], 10);
  std::string reasons = j["reasons"].dump();
  EXPECT_NE(reasons.find("loss"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("NAKs 4 > allowed 0"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("CNPs 10 > allowed 5"), std::string::npos) << reasons;

  // Sprayed over 8 source ports and reordered, nothing lost: PASS with no loss allowed; the text output
  // says lost vs reordered vs outstanding.
  Plan sprayed = make_spray_plan(4, 30);
  auto tv = [](const Plan& p, std::vector<std::string> extra) {
    std::vector<std::string> argv{rfab_binary(), "validate", "--iface", "rft0b", "--hook", "xdp-generic",
                                  "--duration", "1500ms", "--min-gbps", "0", "--max-loss", "0", "--hole-timeout", "1s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Child v(argv);
    EXPECT_TRUE(v.wait_for_stderr("measuring rft0b", 10s));
    inject("rft0a", p.frames);
    return v.wait(15s);
  };
  r = tv(sprayed, {});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("requests: 0 lost (0 late), 840 reordered (max distance 7), 0 outstanding, 0 duplicates"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  // The same with three PSNs never sent: all three are still inside the window (240 PSNs) when the
  // measurement ends, and count as lost because they are still open after the settle time.
  Plan dropped = make_spray_plan(1, 30, {20, 150, 239});
  r = tv(dropped, {"--json"});
  ASSERT_EQ(r.rc, 1) << r.out << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["lost"], 3);
  EXPECT_EQ(j["outstanding"], 0);
  EXPECT_NE(j["reasons"].dump().find("3 of 241 request packets never arrived"), std::string::npos) << r.out;

  // Text mode prints FAIL and the reasons; bad flags exit 2.
  auto t = run({rfab_binary(), "validate", "--iface", "rft0b", "--duration", "200ms", "--min-gbps", "1"}, 10s);
  EXPECT_EQ(t.rc, 1);
  EXPECT_NE(t.out.find("FAIL\n  throughput"), std::string::npos) << t.out;
  t = run({rfab_binary(), "validate", "--iface", "rft0b", "--duration", "1s"}, 10s);
  EXPECT_EQ(t.rc, 2);
  EXPECT_NE(t.err.find("--min-gbps"), std::string::npos) << t.err;
  t = run({rfab_binary(), "validate", "--iface", "rft0b", "--duration", "1s", "--min-line-rate", "0.9"}, 10s);
  EXPECT_EQ(t.rc, 1) << "veth reports 10 Gbit/s and nothing flows";
  EXPECT_NE(t.out.find("< 90.0% of line rate 10.000 Gbit/s"), std::string::npos) << t.out;
}

// rfab's own datapath sends with UDP GSO: tc sees one skb carrying up to 64 RoCE packets. Every segment
// must count as the packet it is on the wire (counting the skb once would report the other segments'
// PSNs as lost), so the totals equal what `rfab perf` says it sent and received, with no loss.
// Moves rft0b into a namespace of its own (10.77.0.2, the test's namespace keeps rft0a as 10.77.0.1), so
// rfab perf runs between the two over the veth with its real datapath (UDP GSO batches).
struct PeerNetns {
  std::string name = "rftgso" + std::to_string(getpid());
  PeerNetns() {
    if (run({"ip", "netns", "add", name}, 10s).rc != 0) throw std::runtime_error("ip netns add " + name);
    for (const auto& cmd : std::vector<std::vector<std::string>>{
             {"ip", "link", "set", "rft0b", "netns", name},
             {"ip", "addr", "add", "10.77.0.1/24", "dev", "rft0a"},
             {"ip", "link", "set", "rft0a", "mtu", "9000"},
             {"ip", "-n", name, "addr", "add", "10.77.0.2/24", "dev", "rft0b"},
             {"ip", "-n", name, "link", "set", "rft0b", "mtu", "9000", "up"},
             {"ip", "-n", name, "link", "set", "lo", "up"}})
      if (run(cmd, 10s).rc != 0) throw std::runtime_error("setting up " + name + ": " + cmd[1] + " " + cmd[2]);
  }
  ~PeerNetns() { run({"ip", "netns", "del", name}, 10s); }
  PeerNetns(const PeerNetns&) = delete;
  PeerNetns& operator=(const PeerNetns&) = delete;
};

TEST_F(TelemetryCli, TcCountsEveryGsoSegmentOfRealRfabTraffic) {
  const PeerNetns peer;
  const std::string& ns = peer.name;

  Child collect({rfab_binary(), "collect", "--iface", "rft0a", "--hook", "tc", "--json", "--duration", "60s"});
  ASSERT_TRUE(collect.wait_for_stderr("attached to rft0a", 10s));
  Child server({"ip", "netns", "exec", ns, rfab_binary(), "perf", "write", "--server", "--json", "--timeout", "20"});
  std::this_thread::sleep_for(300ms);
  auto client = run({rfab_binary(), "perf", "write", "10.77.0.2", "-s", "1M", "-n", "40", "-q", "2", "-m", "4096",
                     "--json", "--timeout", "20"},
                    60s);
  ASSERT_EQ(client.rc, 0) << client.err;
  auto sr = server.wait(20s);
  ASSERT_EQ(sr.rc, 0) << sr.err;
  std::this_thread::sleep_for(300ms);
  auto cr = collect.stop(SIGINT, 10s);
  ASSERT_EQ(cr.rc, 0) << cr.err;

  auto perf = nlohmann::json::parse(client.out);
  ASSERT_GT(perf.at("tx_packets").get<uint64_t>(), 40u * 2 * 256 - 1) << "1 MiB per message at MTU 4096";
  ASSERT_LT(perf.at("tx_syscalls").get<uint64_t>(), perf.at("tx_packets").get<uint64_t>() / 4)
      << "the sender batched packets (UDP GSO), which is what this test is about";
  auto m = last_metrics(cr.out).at("metrics");
  EXPECT_EQ(json_value(m, "rfab_iface_roce_packets_total", "tx"), perf.at("tx_packets").get<double>());
  EXPECT_EQ(json_value(m, "rfab_iface_roce_packets_total", "rx"), perf.at("rx_packets").get<double>());
  EXPECT_EQ(json_value(m, "rfab_iface_lost_packets_total", "tx"), 0);
  EXPECT_EQ(json_value(m, "rfab_iface_malformed_total", "tx"), 0);
}

// Generic XDP runs on the skb the stack holds: a GSO batch from rfab's datapath arrives as one frame whose
// later segments it cannot see. It must say so (FAIL naming the hook's limit, the skbs counted apart)
// rather than report those segments' PSNs as lost.
TEST_F(TelemetryCli, GenericXdpSaysItCannotSplitGsoSkbsInsteadOfReportingLoss) {
  const PeerNetns peer;
  Child validate({"ip", "netns", "exec", peer.name, rfab_binary(), "validate", "--iface", "rft0b", "--hook",
                  "xdp-generic", "--duration", "3s", "--min-gbps", "0", "--max-loss", "0", "--json"});
  ASSERT_TRUE(validate.wait_for_stderr("measuring", 10s));
  Child server({"ip", "netns", "exec", peer.name, rfab_binary(), "perf", "write", "--server", "--json", "--timeout", "20"});
  std::this_thread::sleep_for(300ms);
  auto client = run({rfab_binary(), "perf", "write", "10.77.0.2", "-s", "1M", "-n", "40", "-q", "2", "-m", "4096",
                     "--json", "--timeout", "20"},
                    60s);
  ASSERT_EQ(client.rc, 0) << client.err;
  ASSERT_EQ(server.wait(20s).rc, 0);
  auto vr = validate.wait(20s);
  EXPECT_EQ(vr.rc, 1) << vr.out << vr.err;
  const auto j = nlohmann::json::parse(vr.out.substr(vr.out.find('{')));
  EXPECT_GT(j.value("unsplit_gso", uint64_t{0}), 0u) << vr.out;
  const std::string reasons = j.at("reasons").dump();
  EXPECT_NE(reasons.find("generic XDP sees whole"), std::string::npos) << reasons;
  EXPECT_EQ(reasons.find("never arrived"), std::string::npos) << "segments it never saw gated as loss: " << reasons;
}

// RoCE at a 4096-byte path MTU needs jumbo frames, which native XDP on veth accepts only from a
// multi-buffer ("frags") aware program: the collector must attach at MTU 9000 and count such frames whole.
TEST_F(TelemetryCli, NativeXdpCountsJumboFrames) {
  for (const char* dev : {"rft0a", "rft0b"}) ASSERT_EQ(run({"ip", "link", "set", dev, "mtu", "9000"}, 10s).rc, 0);
  Child collect({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "xdp", "--json", "--duration", "60s"});
  ASSERT_TRUE(collect.wait_for_stderr("attached to rft0b", 10s));
  Plan p = make_clean_plan(2, 20, 4096);
  inject("rft0a", p.frames);
  std::this_thread::sleep_for(500ms);
  auto cr = collect.stop(SIGINT, 10s);
  ASSERT_EQ(cr.rc, 0) << cr.err;
  auto m = last_metrics(cr.out).at("metrics");
  EXPECT_EQ(json_value(m, "rfab_iface_roce_packets_total", "rx"), static_cast<double>(p.roce_packets));
  EXPECT_EQ(json_value(m, "rfab_iface_roce_bytes_total", "rx"), static_cast<double>(p.roce_bytes));
  EXPECT_EQ(json_value(m, "rfab_iface_lost_packets_total", "rx"), 0);
}

TEST_F(TelemetryCli, CollectRejectsBadFlagsClearly) {
  auto r = run({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "bogus"}, 10s);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--hook must be xdp, xdp-generic or tc"), std::string::npos) << r.err;
  r = run({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "xdp", "--interval", "soon"}, 10s);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--interval"), std::string::npos) << r.err;
  r = run({rfab_binary(), "collect", "--iface", "rft0b", "--hook", "xdp", "--prometheus", "nohost"}, 10s);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("HOST:PORT"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rfab::test
