// rdma_cm programs, the Debian binaries unmodified, on rfab's verbs provider (`rfab softroce shell`, whose
// preloaded librfab-verbs.so answers both libibverbs and librdmacm): rping with its own data check (also
// with a QP it moves itself), perftest's -R (QPs connected by rdma_cm, one and two of them), the error paths a connection can take (nobody listening, no
// device for the address, a host that does not answer, a peer that dies), and a capture of rping's
// packets where every packet decodes and carries a correct ICRC. One end in each of two namespaces.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
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

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class RdmaCmOnProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
    for (const char* p : {"rping", "ib_write_bw", "ib_send_bw", "ib_read_bw"})
      if (!have(p)) GTEST_SKIP() << p << " not installed (rdmacm-utils, perftest)";
    net_ = std::make_unique<systest::NetnsPair>(9000);
  }

  std::vector<std::string> shell(const std::string& iface, const std::vector<std::string>& prog) const {
    std::vector<std::string> argv{systest::rfab_binary(), "softroce", "shell", "--iface", iface, "--"};
    argv.insert(argv.end(), prog.begin(), prog.end());
    return argv;
  }

  std::string log(const std::string& what) const { return "/tmp/" + net_->ns_a + "-" + what + ".log"; }

  struct Pair {
    int server = -1, client = -1;
    std::string server_out, client_out;
  };

  // `server` in B (listening on TCP `port`), then `client` in A; both outputs and exit codes.
  Pair run_pair(const std::vector<std::string>& server, const std::vector<std::string>& client, int port,
                std::chrono::seconds timeout = 120s) {
    Pair p;
    systest::Child s(net_->ns_b, shell(net_->if_b, server), log("server"));
    EXPECT_TRUE(wait_listening_20s(net_->ns_b, port)) << s.output();
    systest::Child c(net_->ns_a, shell(net_->if_a, client), log("client"));
    p.client = c.wait(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    p.server = s.wait(10s);
    p.client_out = c.output();
    p.server_out = s.output();
    std::filesystem::remove(log("server"));
    std::filesystem::remove(log("client"));
    return p;
  }

  Pair rping(const std::vector<std::string>& extra_client, int count_pings) {
    std::vector<std::string> client{"rping", "-c", "-a", net_->ip4_b, "-C", std::to_string(count_pings), "-v", "-V"};
    client.insert(client.end(), extra_client.begin(), extra_client.end());
    std::vector<std::string> server{"rping", "-s", "-a", net_->ip4_b, "-V"};
    server.insert(server.end(), extra_client.begin(), extra_client.end());
    return run_pair(server, client, 7174, 60s);
  }

  // perftest -R: the sizes reported, and every row's average bandwidth positive where perftest's two decimals
  // of MB/s can show it: from 4 KiB a row of 0.00 would mean minutes for its iterations, while a 2-byte row
  // prints 0.00 whenever its 100 iterations take more than 40 ms (a loaded machine's scheduler ticks).
  std::vector<uint64_t> perftest_sizes(const std::string& out) {
    std::vector<uint64_t> sizes;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream l(line);
      std::vector<std::string> f;
      for (std::string w; l >> w;) f.push_back(w);
      if (f.size() < 5 || f[0].find_first_not_of("0123456789") != std::string::npos) continue;
      if (std::stoull(f[0]) >= 4096) EXPECT_GT(std::stod(f[3]), 0.0) << line;
      else EXPECT_GE(std::stod(f[3]), 0.0) << line;
      if (sizes.empty() || sizes.back() != std::stoull(f[0])) sizes.push_back(std::stoull(f[0]));
    }
    return sizes;
  }

  std::unique_ptr<systest::NetnsPair> net_;
};

// rping's ping-pong: the client advertises a buffer, the server RDMA READs it, then RDMA WRITEs it back
// into another; -V makes the client compare the two, byte for byte, every round.
TEST_F(RdmaCmOnProvider, RpingTenRoundsDataVerified) {
  const Pair p = rping({}, 10);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_EQ(count(p.client_out, "ping data: rdma-ping-"), 10u) << p.client_out;
  EXPECT_EQ(p.client_out.find("data mismatch"), std::string::npos) << p.client_out;
  EXPECT_NE(p.client_out.find("rdma-ping-9: JKLMNOPQ"), std::string::npos) << p.client_out;
  EXPECT_NE(p.server_out.find("server DISCONNECT EVENT"), std::string::npos) << p.server_out;
}

// 60000-byte pings: every READ and WRITE spans many packets.
TEST_F(RdmaCmOnProvider, RpingLargeBuffersDataVerified) {
  const Pair p = rping({"-S", "60000"}, 5);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_EQ(count(p.client_out, "ping data: rdma-ping-"), 5u) << p.client_out;
}

// -q: rping creates and moves its own QP (ibv_create_qp, rdma_init_qp_attr for INIT/RTR/RTS), connects
// with conn_param.qp_num, gets CONNECT_RESPONSE and completes with rdma_establish.
TEST_F(RdmaCmOnProvider, RpingWithItsOwnQpDataVerified) {
  const Pair p = rping({"-q"}, 5);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_EQ(count(p.client_out, "ping data: rdma-ping-"), 5u) << p.client_out;
}

// Two QPs, each connected by its own rdma_cm exchange on the same listener.
TEST_F(RdmaCmOnProvider, WriteBwOverRdmaCmTwoQps) {
  const Pair p = run_pair({"ib_write_bw", "-R", "-F", "-q", "2", "-s", "65536", "-n", "200"},
                          {"ib_write_bw", "-R", "-F", "-q", "2", "-s", "65536", "-n", "200", net_->ip4_b}, 18515);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_EQ(perftest_sizes(p.client_out), std::vector<uint64_t>{65536}) << p.client_out;
}

TEST_F(RdmaCmOnProvider, WriteBwOverRdmaCmEverySize) {
  const Pair p = run_pair({"ib_write_bw", "-R", "-F", "-a", "-n", "100"},
                          {"ib_write_bw", "-R", "-F", "-a", "-n", "100", net_->ip4_b}, 18515);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_NE(p.client_out.find("rdma_cm QPs\t : ON"), std::string::npos) << p.client_out;
  std::vector<uint64_t> want;
  for (uint64_t s = 2; s <= (8u << 20); s *= 2) want.push_back(s);
  EXPECT_EQ(perftest_sizes(p.client_out), want) << p.client_out;
}

TEST_F(RdmaCmOnProvider, SendBwOverRdmaCmSeveralSizes) {
  for (const char* size : {"64", "4096", "65536", "1048576"}) {
    const Pair p = run_pair({"ib_send_bw", "-R", "-F", "-s", size, "-n", "200"},
                            {"ib_send_bw", "-R", "-F", "-s", size, "-n", "200", net_->ip4_b}, 18515);
    EXPECT_EQ(p.client, 0) << size << " client:\n" << p.client_out << "\nserver:\n" << p.server_out;
    EXPECT_EQ(p.server, 0) << p.server_out;
    EXPECT_EQ(perftest_sizes(p.client_out), std::vector<uint64_t>{std::stoull(size)}) << p.client_out;
  }
}

// READ needs the responder resources rdma_connect/rdma_accept negotiate (perftest asks for its
// outstanding-read depth on both ends).
TEST_F(RdmaCmOnProvider, ReadBwOverRdmaCm) {
  const Pair p = run_pair({"ib_read_bw", "-R", "-F", "-s", "65536", "-n", "200"},
                          {"ib_read_bw", "-R", "-F", "-s", "65536", "-n", "200", net_->ip4_b}, 18515);
  EXPECT_EQ(p.client, 0) << "client:\n" << p.client_out << "\nserver:\n" << p.server_out;
  EXPECT_EQ(p.server, 0) << p.server_out;
  EXPECT_EQ(perftest_sizes(p.client_out), std::vector<uint64_t>{65536}) << p.client_out;
}

// Each failure reaches the program as the rdma_cm event a kernel CM gives, and rping's own error path
// ends it at once with a message.
TEST_F(RdmaCmOnProvider, ConnectFailuresEndTheProgramPromptly) {
  struct Case {
    std::string what, address, port, event;
    std::chrono::seconds within;
  };
  // 10.x.x.200 is on B's subnet but nobody answers ARP for it; 192.0.2.1 (TEST-NET-1) has no route.
  const std::string silent = net_->ip4_b.substr(0, net_->ip4_b.rfind('.')) + ".200";
  for (const Case& c : {Case{"nobody listens", net_->ip4_b, "9999", "RDMA_CM_EVENT_REJECTED, error 8", 3s},
                        Case{"no route", "192.0.2.1", "7174", "RDMA_CM_EVENT_ADDR_ERROR", 3s},
                        Case{"no answer", silent, "7174", "RDMA_CM_EVENT_UNREACHABLE", 10s}}) {
    const auto t0 = std::chrono::steady_clock::now();
    systest::Child cl(net_->ns_a, shell(net_->if_a, {"rping", "-c", "-a", c.address, "-p", c.port, "-C", "1"}),
                      log("fail"));
    const int code = cl.wait(15s);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_NE(code, 0) << c.what << "\n" << cl.output();
    EXPECT_NE(code, -1) << c.what << ": still running\n" << cl.output();
    EXPECT_LT(took, c.within) << c.what;
    EXPECT_NE(cl.output().find(c.event), std::string::npos) << c.what << "\n" << cl.output();
  }
  std::filesystem::remove(log("fail"));
}

// A client killed mid-run: its side channel closes, the server gets RDMA_CM_EVENT_DISCONNECTED and ends
// its loop normally.
TEST_F(RdmaCmOnProvider, PeerThatDiesIsDisconnected) {
  systest::Child s(net_->ns_b, shell(net_->if_b, {"rping", "-s", "-a", net_->ip4_b}), log("server"));
  ASSERT_TRUE(wait_listening_20s(net_->ns_b, 7174)) << s.output();
  systest::Child c(net_->ns_a, shell(net_->if_a, {"rping", "-c", "-a", net_->ip4_b, "-C", "0"}), log("client"));
  std::this_thread::sleep_for(1500ms);
  ASSERT_EQ(c.wait(0ms), -1) << "the endless client ended early:\n" << c.output();
  c.kill_now(SIGKILL);
  c.wait(5s);
  EXPECT_EQ(s.wait(10s), 0) << s.output();
  EXPECT_NE(s.output().find("server DISCONNECT EVENT"), std::string::npos) << s.output();
  std::filesystem::remove(log("server"));
  std::filesystem::remove(log("client"));
}

// Every RoCE packet of an rping run, captured on B's veth, decodes and has a correct ICRC.
TEST_F(RdmaCmOnProvider, CapturedRpingPacketsAllVerify) {
  if (!have("tcpdump")) GTEST_SKIP() << "tcpdump not installed";
  // veth passes a UDP GSO super-packet through unsegmented; segment before the capture point.
  systest::sh("ip netns exec " + net_->ns_a + " ethtool -K " + net_->if_a + " tx-udp-segmentation off");
  systest::sh("ip netns exec " + net_->ns_b + " ethtool -K " + net_->if_b + " tx-udp-segmentation off");
  const std::string file = "/tmp/" + net_->ns_b + "-rping.pcap";
  std::filesystem::remove(file);
  systest::Child cap(net_->ns_b, {"tcpdump", "-U", "-n", "-i", net_->if_b, "-w", file, "udp", "port", "4791"},
                     file + ".log");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::error_code ec;
  while (std::chrono::steady_clock::now() < deadline && !(std::filesystem::file_size(file, ec) > 0 && !ec))
    std::this_thread::sleep_for(20ms);
  ASSERT_GT(std::filesystem::file_size(file, ec), 0u) << cap.output();

  const Pair p = rping({"-S", "20000"}, 20);
  EXPECT_EQ(p.client, 0) << p.client_out << "\n" << p.server_out;
  std::this_thread::sleep_for(300ms);
  cap.kill_now(SIGINT);
  cap.wait(10s);

  int code = 0;
  const std::string summary =
      systest::run_capture(systest::rfab_binary() + " decode --verify-icrc -q " + file + " 2>&1", code);
  EXPECT_EQ(code, 0) << summary;
  EXPECT_NE(summary.find(" 0 malformed"), std::string::npos) << summary;
  EXPECT_NE(summary.find("bad 0"), std::string::npos) << summary;
  // 20 rounds of a 20000-byte READ (5 responses at a 4096-byte MTU) and WRITE (5 packets), plus the
  // SENDs and ACKs: well over 200 packets.
  const auto pos = summary.find("ICRC ok ");
  ASSERT_NE(pos, std::string::npos) << summary;
  EXPECT_GT(std::stoul(summary.substr(pos + 8)), 200u) << summary;
  std::filesystem::remove(file);
  std::filesystem::remove(file + ".log");
}

}  // namespace
