// The DPDK datapath (net_af_packet on each namespace's veth, EAL without hugepages) between two network
// namespaces: rfab perf with its data checked against the kernel-UDP datapath in both roles (with every
// ICRC of the captured traffic verified by `rfab decode`) and against itself, ARP answered and resolved
// by the datapath, and clear errors for bad EAL arguments or a missing port.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "bypass_run.hpp"
#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;
using rfab::systest::NetnsPair;

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A small mbuf pool, 4 KiB TPACKET slots (RoCE MTU 2048) and a deep ring, on `iface`.
std::vector<std::string> dpdk(const std::string& iface) {
  return {"--datapath", "dpdk", "-m", "2048", "--dpdk-args",
          "--no-huge -m 512 --no-pci --no-shconf --log-level=lib.eal:error "
          "--vdev=net_af_packet0,iface=" + iface + ",framesz=4096,blocksz=4096,framecnt=4096"};
}
const std::vector<std::string> kUdp{"--datapath", "udp", "-m", "2048"};

class DpdkNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces, AF_PACKET)";
    net_ = std::make_unique<NetnsPair>(9000);
    rfab::systest::segment_in_software(*net_);
  }
  std::unique_ptr<NetnsPair> net_;
};

TEST_F(DpdkNetns, InteropWithKernelUdpBothWays) {
  {
    rfab::systest::RoceCapture cap(net_->ns_b, net_->if_b, "dpdk-srv");
    expect_verified(*net_, "write", dpdk(net_->if_a), kUdp + std::vector<std::string>{"-s", "100000", "-n", "20"});
    expect_verified(*net_, "read", dpdk(net_->if_a), kUdp + std::vector<std::string>{"-s", "100000", "-n", "10"});
    EXPECT_GT(cap.stop_and_verify(), 300u);
  }
  {
    rfab::systest::RoceCapture cap(net_->ns_a, net_->if_a, "udp-srv");
    expect_verified(*net_, "send", kUdp, dpdk(net_->if_b) + std::vector<std::string>{"-s", "5000", "-n", "50"});
    expect_verified(*net_, "write", kUdp, dpdk(net_->if_b) + std::vector<std::string>{"-s", "100000", "-n", "10"});
    EXPECT_GT(cap.stop_and_verify(), 300u);
  }
}

TEST_F(DpdkNetns, DpdkToDpdkEveryVerb) {
  for (const std::string verb : {"write", "send", "read"}) {
    const auto o = rfab::systest::run_perf(*net_, verb, dpdk(net_->if_a),
                                           dpdk(net_->if_b) + std::vector<std::string>{"-s", "64K", "-n", "30"});
    ASSERT_EQ(o.client_rc, 0) << verb << "\n" << o.client_out << "\n" << o.server_out;
    ASSERT_EQ(o.server_rc, 0) << verb << "\n" << o.server_out;
    EXPECT_TRUE(o.client.value("verified", false)) << o.client_out;
    EXPECT_TRUE(o.server.value("verified", false)) << o.server_out;
    // Each side resolved its peer with its own ARP request (a DPDK port does not read the kernel's tables).
    EXPECT_GE(o.client["datapath_counters"].value("arp_requests_sent", 0), 1) << o.client_out;
  }
}

TEST_F(DpdkNetns, BadEalArgumentsAndMissingPortAreClearErrors) {
  const std::string log = "/tmp/" + net_->ns_a + "-dpdkerr.log";
  {
    Child c(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "write", "--server", "--datapath", "dpdk", "--dpdk-args",
                         "--no-huge -m 512 --no-such-eal-flag"},
            log);
    EXPECT_EQ(c.wait(20s), 2);
    EXPECT_NE(c.output().find("EAL initialisation with '--no-huge -m 512 --no-such-eal-flag' failed"), std::string::npos)
        << c.output();
  }
  {
    Child c(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "write", "--server", "--datapath", "dpdk", "--dpdk-args",
                         "--no-huge -m 512 --no-pci --no-shconf"},
            log);
    EXPECT_EQ(c.wait(20s), 2);
    EXPECT_NE(c.output().find("no port 0"), std::string::npos) << c.output();
  }
  {
    Child c(net_->ns_a, {rfab::systest::rfab_binary(), "perf", "write", "--server", "--datapath", "dpdk"}, log);
    EXPECT_EQ(c.wait(20s), 2);
    EXPECT_NE(c.output().find("no EAL arguments"), std::string::npos) << c.output();
  }
}

}  // namespace
