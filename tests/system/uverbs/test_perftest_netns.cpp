// perftest's ib_write_bw, ib_send_bw, ib_read_bw, ib_atomic_bw and ib_write_lat, the Debian binaries
// unmodified, with both ends on rfab's verbs provider (`rfab softroce shell --iface`), one in each of two
// network namespaces joined by a veth pair. Every message size of `-a` must run and report a sane rate;
// the packets captured on the veth must all decode and carry a correct ICRC.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netns.hpp"

namespace {
using namespace rfab;
using namespace std::chrono_literals;

bool have(const std::string& prog) { return systest::have_program(prog); }
bool wait_listening_20s(const std::string& ns, int port) { return systest::wait_tcp_listening(ns, port, 20s); }

struct Row {
  uint64_t bytes = 0;
  double value = 0;  // BW average (MB/s) for bandwidth tests, t_typical (us) for latency tests
};

// perftest's result rows: "<bytes> <iterations> <a> <b> <c> ...". Bandwidth rows give BW average as the
// 4th column; latency rows t_typical as the 5th.
std::vector<Row> result_rows(const std::string& out, bool latency) {
  std::vector<Row> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    std::vector<std::string> f;
    for (std::string w; l >> w;) f.push_back(w);
    if (f.size() < 5 || f[0].find_first_not_of("0123456789") != std::string::npos) continue;
    Row r;
    r.bytes = std::stoull(f[0]);
    r.value = std::stod(latency ? f[4] : f[3]);
    rows.push_back(r);
  }
  return rows;
}

class PerftestOnProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
    for (const char* p : {"ib_write_bw", "ib_send_bw", "ib_read_bw", "ib_atomic_bw", "ib_write_lat"})
      if (!have(p)) GTEST_SKIP() << p << " not installed (perftest)";
    net_ = std::make_unique<systest::NetnsPair>(9000);
  }

  std::vector<std::string> shell(const std::string& iface, const std::vector<std::string>& prog) const {
    std::vector<std::string> argv{systest::rfab_binary(), "softroce", "shell", "--iface", iface, "--"};
    argv.insert(argv.end(), prog.begin(), prog.end());
    return argv;
  }

  // Runs `prog args` as server in B and client in A (towards B); returns the client's output.
  std::string run_pair(const std::vector<std::string>& prog, std::chrono::seconds timeout = 120s) {
    const std::string tag = "/tmp/" + net_->ns_a + "-" + prog[0];
    systest::Child server(net_->ns_b, shell(net_->if_b, prog), tag + ".server.log");
    EXPECT_TRUE(wait_listening_20s(net_->ns_b, 18515)) << server.output();
    std::vector<std::string> client_prog = prog;
    client_prog.push_back(net_->ip4_b);
    systest::Child client(net_->ns_a, shell(net_->if_a, client_prog), tag + ".client.log");
    const int c = client.wait(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    const int s = server.wait(10s);
    EXPECT_EQ(c, 0) << "client:\n" << client.output() << "\nserver:\n" << server.output();
    EXPECT_EQ(s, 0) << "server:\n" << server.output();
    const std::string out = client.output();
    std::filesystem::remove(tag + ".server.log");
    std::filesystem::remove(tag + ".client.log");
    return out;
  }

  // Every size of -a (2 B .. 8 MiB) reported, each with a positive rate, and a sane one for large messages.
  void expect_all_sizes(const std::string& out, uint64_t first, double min_large_mbs) {
    const std::vector<Row> rows = result_rows(out, false);
    std::vector<uint64_t> sizes;
    for (const Row& r : rows) {
      if (!sizes.empty() && sizes.back() == r.bytes) continue;  // perftest repeats the last row
      sizes.push_back(r.bytes);
      EXPECT_GT(r.value, 0.0) << r.bytes << " B\n" << out;
      if (r.bytes >= 65536) {
        EXPECT_GT(r.value, min_large_mbs) << r.bytes << " B\n" << out;
      }
    }
    std::vector<uint64_t> want;
    for (uint64_t s = first; s <= (8u << 20); s *= 2) want.push_back(s);
    EXPECT_EQ(sizes, want) << out;
  }

  std::unique_ptr<systest::NetnsPair> net_;
};

TEST_F(PerftestOnProvider, WriteBwEverySize) {
  expect_all_sizes(run_pair({"ib_write_bw", "-F", "-a", "-n", "200"}), 2, 50.0);
}

TEST_F(PerftestOnProvider, SendBwEverySize) {
  expect_all_sizes(run_pair({"ib_send_bw", "-F", "-a", "-n", "200"}), 2, 50.0);
}

// -e: both ends sleep in ibv_get_cq_event on a completion channel instead of polling; the provider's
// progress thread moves the packets and raises the events.
TEST_F(PerftestOnProvider, SendBwWithCompletionEventsEverySize) {
  expect_all_sizes(run_pair({"ib_send_bw", "-F", "-e", "-a", "-n", "200"}), 2, 50.0);
}

TEST_F(PerftestOnProvider, ReadBwEverySize) {
  expect_all_sizes(run_pair({"ib_read_bw", "-F", "-a", "-n", "200"}), 2, 50.0);
}

// 8-byte atomics give a bandwidth of a few MB/s, which ib_atomic_bw prints with two decimals: a run slowed
// down by the machine (once in a whole-suite run) printed 0.00 for a run that completed. Such a run gets one
// more try; a datapath that moves no atomics prints 0 (or fails) both times.
TEST_F(PerftestOnProvider, AtomicBwFetchAddAndCompareSwap) {
  for (const char* op : {"FETCH_AND_ADD", "CMP_AND_SWAP"}) {
    std::vector<Row> rows;
    for (int attempt = 0; attempt < 2; ++attempt) {
      rows = result_rows(run_pair({"ib_atomic_bw", "-F", "-A", op, "-n", "500"}), false);
      ASSERT_FALSE(rows.empty()) << op;
      EXPECT_EQ(rows.front().bytes, 8u);
      if (rows.front().value > 0.0) break;
    }
    EXPECT_GT(rows.front().value, 0.0) << op << ": no bandwidth in two runs";
  }
}

TEST_F(PerftestOnProvider, WriteLatEverySize) {
  const std::string out = run_pair({"ib_write_lat", "-F", "-a", "-n", "100"}, 300s);
  const std::vector<Row> rows = result_rows(out, true);
  std::vector<uint64_t> sizes;
  for (const Row& r : rows) {
    sizes.push_back(r.bytes);
    EXPECT_GT(r.value, 0.0) << out;
  }
  std::vector<uint64_t> want;
  for (uint64_t s = 2; s <= (8u << 20); s *= 2) want.push_back(s);
  EXPECT_EQ(sizes, want) << out;
}

// One end on the provider (perftest), the other on rfab's engine directly (`rfab perf --perftest`, which
// speaks perftest's side channel and checks the data): the provider interoperates with another RoCE
// implementation, and what the engine side receives or serves is verified byte for byte.
TEST_F(PerftestOnProvider, InteroperatesWithRfabPerf) {
  struct Case {
    std::string verb, program, size;
  };
  for (const Case& c : {Case{"send", "ib_send_bw", "4096"}, Case{"read", "ib_read_bw", "65536"},
                        Case{"write", "ib_write_bw", "65536"}}) {
    const std::string log = "/tmp/" + net_->ns_b + "-rfab-" + c.verb + ".log";
    systest::Child rfab(net_->ns_b,
                        {systest::rfab_binary(), "perf", c.verb, "--perftest", "--server", "--json", "-m", "4096",
                         "-s", c.size, "-n", "500"},
                        log);
    ASSERT_TRUE(wait_listening_20s(net_->ns_b, 18515)) << rfab.output();
    systest::Child ib(net_->ns_a,
                      shell(net_->if_a, {c.program, "-F", "-s", c.size, "-n", "500", net_->ip4_b}),
                      "/tmp/" + net_->ns_a + "-" + c.program + ".log");
    EXPECT_EQ(ib.wait(60s), 0) << c.program << ":\n" << ib.output() << "\nrfab:\n" << rfab.output();
    EXPECT_EQ(rfab.wait(10s), 0) << rfab.output();
    const nlohmann::json j = systest::last_json(rfab.output());
    ASSERT_TRUE(j.is_object()) << rfab.output();
    // rfab perf write as a server cannot see the client's source buffer; it checks SEND and READ data.
    if (c.verb != "write") {
      EXPECT_EQ(j.value("verified", false), true) << rfab.output();
    }
    EXPECT_EQ(j.value("rx_bad_icrc", 1), 0) << rfab.output();
    EXPECT_EQ(j.value("retransmits", 1), 0) << rfab.output();
    std::filesystem::remove(log);
  }
}

// Every packet of a WRITE, READ, SEND and atomic run, captured on B's veth, decodes and has a correct ICRC.
TEST_F(PerftestOnProvider, CapturedPacketsAllVerify) {
  if (!have("dumpcap")) GTEST_SKIP() << "dumpcap not installed";
  // veth passes a UDP GSO super-packet through unsegmented; segment before the capture point.
  systest::sh("ip netns exec " + net_->ns_a + " ethtool -K " + net_->if_a + " tx-udp-segmentation off");
  systest::sh("ip netns exec " + net_->ns_b + " ethtool -K " + net_->if_b + " tx-udp-segmentation off");
  const std::string file = "/tmp/" + net_->ns_b + "-perftest.pcapng";
  std::filesystem::remove(file);
  systest::Child cap(net_->ns_b,
                     {"dumpcap", "-q", "-i", net_->if_b, "-f", "udp port 4791", "-B", "64", "-a", "duration:120", "-w", file},
                     file + ".log");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::error_code ec;
  while (std::chrono::steady_clock::now() < deadline && !(std::filesystem::file_size(file, ec) > 0 && !ec))
    std::this_thread::sleep_for(20ms);
  ASSERT_GT(std::filesystem::file_size(file, ec), 0u) << cap.output();

  run_pair({"ib_write_bw", "-F", "-s", "65536", "-n", "100"});
  run_pair({"ib_read_bw", "-F", "-s", "100000", "-n", "50"});
  run_pair({"ib_send_bw", "-F", "-s", "3000", "-n", "50"});
  run_pair({"ib_atomic_bw", "-F", "-n", "50"});
  std::this_thread::sleep_for(300ms);
  cap.kill_now(SIGINT);
  cap.wait(10s);

  int code = 0;
  const std::string summary =
      systest::run_capture(systest::rfab_binary() + " decode --verify-icrc -q " + file + " 2>&1", code);
  EXPECT_EQ(code, 0) << summary;
  EXPECT_NE(summary.find(" 0 malformed"), std::string::npos) << summary;
  EXPECT_NE(summary.find("bad 0"), std::string::npos) << summary;
  // 100 x 64 KiB of WRITE alone is 1600 packets at a 4096-byte MTU.
  const auto pos = summary.find("ICRC ok ");
  ASSERT_NE(pos, std::string::npos) << summary;
  EXPECT_GT(std::stoul(summary.substr(pos + 8)), 1600u) << summary;
  std::filesystem::remove(file);
  std::filesystem::remove(file + ".log");
}

}  // namespace
