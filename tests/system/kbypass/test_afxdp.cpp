// The AF_XDP datapath between two network namespaces: rfab perf with its data checked (every verb, IPv4 and
// IPv6, native and generic XDP, seeded faults), wire interop with the kernel-UDP datapath in both roles
// with the traffic captured and every ICRC verified by `rfab decode`, a 2-rank allreduce over
// RFAB_DATAPATH=afxdp, and clear errors for a missing interface or an MTU the UMEM frames cannot hold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bypass_run.hpp"
#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;
using rfab::systest::NetnsPair;

const std::vector<std::string> kAfxdp{"--datapath", "afxdp", "-m", "2048"};
const std::vector<std::string> kUdp{"--datapath", "udp", "-m", "2048"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class AfxdpNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces, XDP)";
    net_ = std::make_unique<NetnsPair>(9000);
  }
  std::unique_ptr<NetnsPair> net_;
};

TEST_F(AfxdpNetns, EveryVerbBetweenTwoAfxdpEnds) {
  expect_verified(*net_, "write", kAfxdp, kAfxdp + std::vector<std::string>{"-s", "256K", "-n", "40", "-q", "2"});
  expect_verified(*net_, "send", kAfxdp, kAfxdp + std::vector<std::string>{"-s", "6000", "-n", "100"});
  expect_verified(*net_, "read", kAfxdp, kAfxdp + std::vector<std::string>{"-s", "256K", "-n", "20"});
  expect_verified(*net_, "atomic", kAfxdp, kAfxdp + std::vector<std::string>{"-n", "100"});
  // IPv6: the next hop's MAC comes from the kernel's NDP table.
  expect_verified(*net_, "send", kAfxdp, kAfxdp + std::vector<std::string>{"-s", "64K", "-n", "30"}, true);
}

TEST_F(AfxdpNetns, SeededFaultsOnBothSidesKeepTheDataExact) {
  const std::vector<std::string> f{"--faults", "drop=1%,reorder=2%,dup=1%,corrupt=1%,seed=7", "--ack-timeout", "12"};
  expect_verified(*net_, "write", kAfxdp + f, kAfxdp + f + std::vector<std::string>{"-s", "100000", "-n", "30"});
  expect_verified(*net_, "send", kAfxdp + f, kAfxdp + f + std::vector<std::string>{"-s", "5000", "-n", "100"});
}

// veth takes native XDP only below ~3.5 KB of MTU.
TEST(AfxdpNative, NativeXdpOnASmallMtuVeth) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces, XDP)";
  NetnsPair net(3000);
  const std::vector<std::string> native = kAfxdp + std::vector<std::string>{"--xdp-mode", "native"};
  const auto o = rfab::systest::run_perf(net, "write", native, native + std::vector<std::string>{"-s", "64K", "-n", "50"});
  ASSERT_EQ(o.client_rc, 0) << o.client_out << o.server_out;
  EXPECT_TRUE(o.server.value("verified", false)) << o.server_out;
  EXPECT_NE(o.client.value("datapath", std::string()).find("native XDP"), std::string::npos) << o.client_out;
  EXPECT_EQ(o.client["datapath_counters"].value("native_xdp", 0), 1) << o.client_out;
}

// AF_XDP frames and kernel-UDP datagrams are the same packets: each side takes the other's. The capture on
// the UDP side's veth sees what the AF_XDP side built (Ethernet, IPv4 ID 0, ICRC) arrive, and what the kernel
// sent back.
// The kernel side segments in software: generic XDP would otherwise see veth's GSO super-frames, larger than
// a UMEM frame (a NIC puts only MTU-sized frames on the wire).
TEST_F(AfxdpNetns, WireInteropWithKernelUdpBothWays) {
  rfab::systest::segment_in_software(*net_);
  {
    rfab::systest::RoceCapture cap(net_->ns_b, net_->if_b, "afxdp-srv");
    expect_verified(*net_, "write", kAfxdp, kUdp + std::vector<std::string>{"-s", "100000", "-n", "20"});
    expect_verified(*net_, "read", kAfxdp, kUdp + std::vector<std::string>{"-s", "100000", "-n", "20"});
    EXPECT_GT(cap.stop_and_verify(), 400u);
  }
  {
    rfab::systest::RoceCapture cap(net_->ns_a, net_->if_a, "udp-srv");
    expect_verified(*net_, "send", kUdp, kAfxdp + std::vector<std::string>{"-s", "5000", "-n", "50"});
    expect_verified(*net_, "write", kUdp, kAfxdp + std::vector<std::string>{"-s", "100000", "-n", "20"});
    EXPECT_GT(cap.stop_and_verify(), 400u);
  }
}

TEST_F(AfxdpNetns, TwoRankAllreduceOverAfxdp) {
  const std::string port = std::to_string(20000 + getpid() % 20000);
  std::vector<std::unique_ptr<Child>> ranks;
  for (int r = 0; r < 2; ++r) {
    const std::string& ns = r == 0 ? net_->ns_a : net_->ns_b;
    ranks.push_back(std::make_unique<Child>(
        ns,
        std::vector<std::string>{"env", "RANK=" + std::to_string(r), "WORLD_SIZE=2", "LOCAL_RANK=0", "LOCAL_WORLD_SIZE=1",
                                 "MASTER_ADDR=" + net_->ip4_a, "MASTER_PORT=" + port, "RFAB_HOSTNAME=" + ns,
                                 "RFAB_DATAPATH=afxdp", "RFAB_TIMEOUT=20", "RFAB_ROCE_DEBUG=1",
                                 rfab::systest::rfab_binary(), "coll", "allreduce", "-b", "8", "-e", "4M", "-f", "8",
                                 "-n", "3", "-w", "1", "-c", "1", "-d", "float", "-o", "sum", "--json"},
        "/tmp/" + ns + "-coll.log"));
  }
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(ranks[r]->wait(28s), 0) << "rank " << r << ":\n" << ranks[r]->output();
    const std::string out = ranks[r]->output();
    EXPECT_NE(out.find("AF_XDP"), std::string::npos) << out;  // RFAB_ROCE_DEBUG names the datapath
    if (r != 0) continue;  // rank 0 prints the results
    const nlohmann::json j = rfab::systest::last_json(out);
    ASSERT_FALSE(j.is_null()) << out;
    EXPECT_EQ(j["wrong"], 0) << out;
    EXPECT_EQ(j["nranks"], 2);
    EXPECT_GE(j["rows"].size(), 6u);
  }
}

TEST_F(AfxdpNetns, BadInterfaceAndMtuAreClearErrors) {
  {
    Child c(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "write", "--server", "--datapath", "afxdp", "--iface", "nosuch0"},
            "/tmp/" + net_->ns_a + "-noif.log");
    EXPECT_EQ(c.wait(10s), 2);
    EXPECT_NE(c.output().find("interface 'nosuch0' does not exist"), std::string::npos) << c.output();
  }
  // UMEM frames are one page: RoCE MTU 4096 does not fit, and the error says what does.
  const auto o = rfab::systest::run_perf(*net_, "write", {"--datapath", "udp"}, {"--datapath", "afxdp", "-m", "4096", "-n", "5"});
  EXPECT_EQ(o.client_rc, 2) << o.client_out;
  EXPECT_NE(o.client_out.find("--mtu 2048"), std::string::npos) << o.client_out;
  // Native XDP on a 9000-byte veth is refused by the kernel; the message names the MTU.
  const auto n = rfab::systest::run_perf(*net_, "write", {"--datapath", "udp"},
                                         {"--datapath", "afxdp", "-m", "2048", "--xdp-mode", "native", "-n", "5"});
  EXPECT_EQ(n.client_rc, 2) << n.client_out;
  EXPECT_NE(n.client_out.find("too large for native XDP"), std::string::npos) << n.client_out;
}

}  // namespace
