// `rfab perf` between two network namespaces: every verb, MTUs 256..4096, sizes 0 B..64 MiB, 1..64 QPs,
// IPv4 and IPv6, with and without seeded faults (loss, reordering, duplication, corruption) and spraying.
// Every run checks its data (WRITE/READ: CRC-32 of the target memory; SEND: every message exactly once,
// in order, intact; atomics: fetch-and-add exactly once). A peer killed mid-transfer must turn into a
// completion error on the survivor, never a hang.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;
using rfab::systest::NetnsPair;

struct Outcome {
  int client_rc = -1, server_rc = -1;
  nlohmann::json client, server;
  std::string client_out, server_out;
};

using rfab::systest::last_json;

class Perf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
    net_ = std::make_unique<NetnsPair>(9000);
  }

  // Runs `rfab perf VERB --server SERVER_ARGS` in A and `rfab perf VERB <A's address> CLIENT_ARGS` in B.
  Outcome run(const std::string& verb, std::vector<std::string> client_args, std::vector<std::string> server_args = {},
              bool v6 = false) {
    const std::string tag = "/tmp/" + net_->ns_a + "-" + std::to_string(runs_++);
    std::vector<std::string> s{rfab::systest::rfab_binary(), "perf", verb, "--server", "--json"};
    s.insert(s.end(), server_args.begin(), server_args.end());
    Child server(net_->ns_a, s, tag + "-server.log");
    std::vector<std::string> c{rfab::systest::rfab_binary(), "perf", verb, v6 ? net_->ip6_a : net_->ip4_a, "--json"};
    c.insert(c.end(), client_args.begin(), client_args.end());
    Child client(net_->ns_b, c, tag + "-client.log");
    Outcome o;
    o.client_rc = client.wait(90s);
    o.server_rc = server.wait(10s);
    o.client_out = client.output();
    o.server_out = server.output();
    o.client = last_json(o.client_out);
    o.server = last_json(o.server_out);
    std::remove((tag + "-server.log").c_str());
    std::remove((tag + "-client.log").c_str());
    return o;
  }

  // A run that must succeed with verified data on both sides.
  void expect_ok(const std::string& verb, const std::vector<std::string>& client_args,
                 const std::vector<std::string>& server_args = {}, bool v6 = false, uint64_t want_iters = 0) {
    SCOPED_TRACE(verb + " " + ::testing::PrintToString(client_args) + " server " + ::testing::PrintToString(server_args));
    Outcome o = run(verb, client_args, server_args, v6);
    ASSERT_EQ(o.client_rc, 0) << "client:\n" << o.client_out << "\nserver:\n" << o.server_out;
    ASSERT_EQ(o.server_rc, 0) << "server:\n" << o.server_out;
    EXPECT_EQ(o.client.value("verified", false), true) << o.client_out;
    EXPECT_EQ(o.server.value("verified", false), true) << o.server_out;
    if (want_iters > 0) {
      EXPECT_EQ(o.client.value("iterations", uint64_t{0}), want_iters) << o.client_out;
    }
  }

  std::unique_ptr<NetnsPair> net_;
  int runs_ = 0;
};

TEST_F(Perf, EveryVerb) {
  expect_ok("write", {"-s", "64K", "-n", "200"}, {}, false, 200);
  expect_ok("read", {"-s", "64K", "-n", "200"}, {}, false, 200);
  expect_ok("send", {"-s", "64K", "-n", "200"}, {}, false, 200);
  expect_ok("atomic", {"-n", "500"}, {}, false, 500);
}

TEST_F(Perf, EveryMtu) {
  for (const char* mtu : {"256", "512", "1024", "2048", "4096"}) {
    expect_ok("send", {"-s", "10000", "-n", "40", "-m", mtu}, {}, false, 40);
    expect_ok("read", {"-s", "10000", "-n", "20", "-m", mtu}, {}, false, 20);
  }
}

TEST_F(Perf, SizesFromZeroTo64MiB) {
  for (const char* size : {"0", "1", "7", "4095", "4097", "1M"}) expect_ok("send", {"-s", size, "-n", "20"}, {}, false, 20);
  expect_ok("write", {"-s", "0", "-n", "20"}, {}, false, 20);
  expect_ok("write", {"-s", "64M", "-n", "2", "-t", "2"}, {}, false, 2);
  expect_ok("read", {"-s", "64M", "-n", "1", "-t", "1"}, {}, false, 1);
}

TEST_F(Perf, OneToSixtyFourQps) {
  expect_ok("send", {"-s", "4K", "-n", "20", "-q", "64"}, {}, false, 64 * 20);
  expect_ok("write", {"-s", "64K", "-n", "20", "-q", "16"}, {}, false, 16 * 20);
  expect_ok("atomic", {"-n", "50", "-q", "64"}, {}, false, 64 * 50);
}

TEST_F(Perf, Ipv6) { expect_ok("send", {"-s", "64K", "-n", "100"}, {}, true, 100); }

TEST_F(Perf, LatencyModeReportsPercentiles) {
  Outcome o = run("write", {"-s", "64", "-n", "300", "--latency"});
  ASSERT_EQ(o.client_rc, 0) << o.client_out << o.server_out;
  const auto& l = o.client["latency_us"];
  ASSERT_TRUE(l.is_object()) << o.client_out;
  EXPECT_GT(l["min"].get<double>(), 0);
  EXPECT_LE(l["min"].get<double>(), l["typical"].get<double>());
  EXPECT_LE(l["typical"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
}

// Loss, reordering, duplication and corruption on both receive paths: SENDs must still arrive exactly once,
// in order and intact, and fetch-and-adds apply exactly once. Corrupted packets are dropped on the ICRC.
// The ACK timeout is 2^14 x 4.096 us = 67 ms: with 7 retries a QP gives up after ~0.5 s without progress.
// At 2^12 (17 ms, ~0.13 s) an ASan build under CI's parallel load once starved long enough to exhaust the
// retries (retry_exc_err) although nothing was wrong with the protocol.
TEST_F(Perf, FaultsKeepExactlyOnceInOrder) {
  for (const char* loss : {"0.1%", "1%", "5%"}) {
    const std::string spec = std::string("drop=") + loss + ",reorder=2%,dup=1%,corrupt=1%,seed=11";
    expect_ok("send", {"-s", "6000", "-n", "150", "-m", "1024", "-q", "2", "--faults", spec, "--ack-timeout", "14"},
              {"--faults", spec}, false, 300);
  }
  const std::string spec = "drop=2%,reorder=5%,dup=5%,corrupt=2%,seed=5";
  expect_ok("atomic", {"-n", "300", "-q", "2", "--faults", spec, "--ack-timeout", "14"}, {"--faults", spec}, false, 600);
  expect_ok("write", {"-s", "100000", "-n", "30", "--faults", spec, "--ack-timeout", "14"}, {"--faults", spec}, false, 30);
  // READ responses: a gap in a response stream re-issues the READ and costs a retry (as in rxe), so the
  // client side gets loss without reordering here, to keep 8 failed attempts in a row improbable.
  expect_ok("read", {"-s", "100000", "-n", "30", "--faults", "drop=1%,dup=2%,corrupt=1%,seed=5", "--ack-timeout", "14"},
            {"--faults", spec}, false, 30);
}

TEST_F(Perf, CorruptedPacketsAreDroppedOnTheIcrc) {
  Outcome o = run("send", {"-s", "4000", "-n", "200", "--ack-timeout", "12"}, {"--faults", "corrupt=5%,seed=2"});
  ASSERT_EQ(o.client_rc, 0) << o.client_out << o.server_out;
  EXPECT_GT(o.server.value("rx_bad_icrc", uint64_t{0}), 0u) << o.server_out;
  EXPECT_TRUE(o.server.value("verified", false));
}

TEST_F(Perf, SprayOverEightEntropiesWithReordering) {
  expect_ok("write", {"-s", "256K", "-n", "40", "--spray", "8"}, {"--faults", "reorder=20%,seed=3"}, false, 40);
  expect_ok("send", {"-s", "64K", "-n", "60", "--spray", "8", "-q", "2"}, {"--faults", "reorder=20%,seed=4"}, false, 120);
  expect_ok("read", {"-s", "256K", "-n", "20", "--spray", "8", "--faults", "reorder=20%,seed=5"}, {}, false, 20);
}

// The real RC traffic of a run (requests, ACKs, READ responses, GSO-segmented by the kernel) captured on the
// wire: `rfab decode --verify-icrc` must accept every packet, i.e. the ICRC was computed over the headers
// the kernel actually wrote.
TEST_F(Perf, CapturedTrafficVerifiesWithRfabDecode) {
  for (const auto& [ns, ifn] : {std::pair{net_->ns_a, net_->if_a}, std::pair{net_->ns_b, net_->if_b}})
    rfab::systest::sh("ip netns exec " + ns + " ethtool -K " + ifn + " tx-udp-segmentation off");
  const std::string pcap = "/tmp/" + net_->ns_a + "-perf.pcapng";
  Child cap(net_->ns_a, {"dumpcap", "-q", "-i", net_->if_a, "-f", "udp port 4791", "-a", "duration:60", "-w", pcap},
            pcap + ".log");
  for (int i = 0; i < 500; ++i) {  // wait until dumpcap has written its file header
    std::error_code ec;
    if (std::filesystem::file_size(pcap, ec) > 0 && !ec) break;
    std::this_thread::sleep_for(10ms);
  }
  expect_ok("write", {"-s", "100000", "-n", "20", "--spray", "4"});
  expect_ok("read", {"-s", "100000", "-n", "20"});
  expect_ok("send", {"-s", "5000", "-n", "20", "-m", "1024"});
  expect_ok("atomic", {"-n", "20"});
  std::this_thread::sleep_for(200ms);
  cap.kill_now(SIGINT);
  ASSERT_NE(cap.wait(10s), -1);
  int code = 0;
  const std::string out =
      rfab::systest::run_capture("{ " + rfab::systest::rfab_binary() + " decode --verify-icrc " + pcap + " 2>/dev/null; }", code);
  EXPECT_EQ(code, 0) << out.substr(0, 4000);
  size_t packets = 0, ok = 0;
  for (size_t pos = 0; (pos = out.find('\n', pos)) != std::string::npos; ++pos) ++packets;
  for (size_t pos = 0; (pos = out.find("icrc=ok", pos)) != std::string::npos; ++pos) ++ok;
  EXPECT_GT(ok, 200u) << out.substr(0, 2000);
  EXPECT_EQ(out.find("icrc=BAD"), std::string::npos);
  std::filesystem::remove(pcap);
  std::filesystem::remove(pcap + ".log");
}

TEST_F(Perf, PeerKilledMidTransferIsACompletionError) {
  const std::string tag = "/tmp/" + net_->ns_a + "-kill";
  Child server(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "write", "--server"}, tag + "-server.log");
  Child client(net_->ns_b, {rfab::systest::rfab_binary(), "perf", "write", net_->ip4_a, "-s", "64K", "-D", "60",
                            "--ack-timeout", "10", "--retry-cnt", "3"},
               tag + "-client.log");
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(client.wait(0ms), -1) << "client ended early: " << client.output() << server.output();
  server.kill_now(SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = client.wait(30s);
  ASSERT_NE(rc, -1) << "client hangs after its peer died";
  EXPECT_EQ(rc, 1) << client.output();
  EXPECT_NE(client.output().find("retry counter exceeded"), std::string::npos) << client.output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  std::remove((tag + "-server.log").c_str());
  std::remove((tag + "-client.log").c_str());
}

TEST_F(Perf, SetupErrorsAreClear) {
  // Nobody listening: the client gives up at its deadline with exit code 2.
  const std::string tag = "/tmp/" + net_->ns_a + "-err";
  {
    Child c(net_->ns_b, {rfab::systest::rfab_binary(), "perf", "write", net_->ip4_a, "--timeout", "1"}, tag + ".log");
    EXPECT_EQ(c.wait(20s), 2);
    EXPECT_NE(c.output().find("cannot connect"), std::string::npos) << c.output();
  }
  // Different verbs on the two sides.
  Outcome o = run("write", {}, {});  // warm-up run proves the pair works
  EXPECT_EQ(o.client_rc, 0) << o.client_out;
  {
    Child s(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "read", "--server"}, tag + "-s.log");
    Child c(net_->ns_b, {rfab::systest::rfab_binary(), "perf", "write", net_->ip4_a}, tag + "-c.log");
    EXPECT_EQ(c.wait(20s), 2);
    EXPECT_NE(c.output().find("server refused: this server runs read, the client asked for write"), std::string::npos)
        << c.output();
    // The refused client does not end the server: it waits for the next one.
    EXPECT_EQ(s.wait(500ms), -1) << s.output();
    EXPECT_NE(s.output().find("refused client"), std::string::npos) << s.output();
  }
  {
    Child c(net_->ns_b, {rfab::systest::rfab_binary(), "perf", "write", net_->ip4_a, "-m", "1000"}, tag + "-m.log");
    EXPECT_EQ(c.wait(20s), 2);
  }
  std::remove((tag + ".log").c_str());
  std::remove((tag + "-s.log").c_str());
  std::remove((tag + "-c.log").c_str());
  std::remove((tag + "-m.log").c_str());
}

// `--perftest` between two rfab peers (the lab pairs it with real perftest on rxe: softroce.perftest_udp):
// perftest's side channel end to end, with its checks, MTU agreement, and a mismatch caught by the server.
TEST_F(Perf, PerftestSideChannelBetweenTwoRfabs) {
  for (const std::string verb : {"write", "send", "read"}) {
    const std::vector<std::string> args{"--perftest", "-s", "5000", "-n", "50", "-q", "2", "-m", "2048"};
    Outcome o = run(verb, args, args);
    ASSERT_EQ(o.client_rc, 0) << o.client_out << o.server_out;
    ASSERT_EQ(o.server_rc, 0) << o.server_out;
    EXPECT_TRUE(o.client.value("verified", false)) << o.client_out;
    EXPECT_TRUE(o.server.value("verified", false)) << o.server_out;
    EXPECT_EQ(o.client.value("mtu", 0u), 2048u);
    EXPECT_EQ(o.client.value("iterations", uint64_t{0}), 100u) << o.client_out;
    if (verb != "send") {  // the client's report, as perftest sends it: -n x -q iterations
      EXPECT_EQ(o.server.value("iterations", uint64_t{0}), 100u) << o.server_out;
    }
  }
  // The smaller MTU offer wins on both sides.
  Outcome m = run("write", {"--perftest", "-s", "4096", "-n", "20", "-m", "4096"}, {"--perftest", "-s", "4096", "-n", "20", "-m", "512"});
  ASSERT_EQ(m.client_rc, 0) << m.client_out << m.server_out;
  EXPECT_EQ(m.client.value("mtu", 0u), 512u);
  EXPECT_EQ(m.server.value("mtu", 0u), 512u);
  // -n differs: the WRITE server sees it in the client's report and fails its check.
  Outcome bad = run("write", {"--perftest", "-s", "4096", "-n", "30"}, {"--perftest", "-s", "4096", "-n", "20"});
  EXPECT_EQ(bad.server_rc, 1) << bad.server_out;
  EXPECT_NE(bad.server_out.find("-n 20"), std::string::npos) << bad.server_out;
  // Options that need an rfab peer are refused up front.
  const std::string tag = "/tmp/" + net_->ns_a + "-pt";
  Child c(net_->ns_b, {rfab::systest::rfab_binary(), "perf", "atomic", "--perftest", net_->ip4_a}, tag + ".log");
  EXPECT_EQ(c.wait(20s), 2);
  EXPECT_NE(c.output().find("--perftest: atomic"), std::string::npos) << c.output();
  std::remove((tag + ".log").c_str());
}

}  // namespace
