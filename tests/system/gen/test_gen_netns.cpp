// rfab gen in namespace A sends RoCE v2 with injected PSN gaps, CE marks, CNPs and NAKs over the veth; the
// collector in namespace B (DPDK over net_af_packet, or the eBPF collector on XDP or tc) must count exactly
// what gen reports sending, flow by flow (scripts/gen-compare.py), and `rfab validate --from` on its records
// must pass at the truth's NAK and CNP counts and fail one below, and fail --max-loss 0.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;
using rfab::systest::NetnsPair;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rfab-gennet-" + std::to_string(getpid()) + "-" + name)).string();
}

// EAL arguments for a net_af_packet port on `iface`, with a file prefix of its own (two DPDK processes run
// at once) and a deep ring (the default 512 slots drop under a burst).
std::string eal(const std::string& iface, const std::string& prefix) {
  return "--no-huge -m 512 --no-pci --no-shconf --log-level=lib.eal:error --file-prefix " + prefix + "-" +
         std::to_string(getpid()) + " --vdev=net_af_packet0,iface=" + iface + ",framecnt=4096";
}

std::string mac_of(const std::string& ns, const std::string& iface) {
  int rc = 0;
  const std::string out = rfab::systest::run_capture("ip -n " + ns + " -o link show " + iface, rc);
  const auto at = out.find("link/ether ");
  return at == std::string::npos ? "" : out.substr(at + 11, 17);
}

class GenNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces, AF_PACKET, BPF)";
    net_ = std::make_unique<NetnsPair>(1500);
  }

  // gen's traffic flags (JSON truth on stdout), to B's address and MAC.
  std::vector<std::string> traffic(const std::string& count) const {
    return {"--dst-mac", mac_of(net_->ns_b, net_->if_b), "--src-ip", net_->ip4_a, "--dst-ip", net_->ip4_b,
            "--count", count, "--mix", "write=50,send=30,read=20", "-s", "3000", "--qps", "4",
            "--gap-rate", "0.03", "--ecn-ce-rate", "0.1", "--cnp-rate", "0.04", "--nak-rate", "0.04",
            "--pps", "50000", "--seed", "11", "--json"};
  }

  // Starts `collect` (its flags after the subcommand) in B writing records to `records`, runs gen in A with
  // `output` flags, stops the collector, and checks the records against gen's truth.
  void gen_to_collector(const std::vector<std::string>& collect, const std::vector<std::string>& output,
                        const std::string& tag) {
    const std::string records = tmp(tag + ".jsonl"), truth = tmp(tag + "-gen.json");
    std::vector<std::string> cargv{rfab::systest::rfab_binary(), "collect"};
    cargv.insert(cargv.end(), collect.begin(), collect.end());
    for (const char* a : {"--interval", "200ms", "--json-file"}) cargv.push_back(a);
    cargv.push_back(records);
    Child col(net_->ns_b, cargv, tmp(tag + "-collect.log"));
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (col.output().find("attached to") == std::string::npos) {
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "collector did not attach:\n" << col.output();
      ASSERT_EQ(col.wait(50ms), -1) << "collector exited:\n" << col.output();
    }
    // `rfab validate --from` gates the change between the first and the last record: traffic starts after
    // the first one.
    while (!std::filesystem::exists(records) || std::filesystem::file_size(records) == 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "no first record:\n" << col.output();
      std::this_thread::sleep_for(20ms);
    }
    std::vector<std::string> gargv{rfab::systest::rfab_binary(), "gen"};
    gargv.insert(gargv.end(), output.begin(), output.end());
    const auto t = traffic("20000");
    gargv.insert(gargv.end(), t.begin(), t.end());
    Child gen(net_->ns_a, gargv, truth);
    ASSERT_EQ(gen.wait(60s), 0) << gen.output();
    std::this_thread::sleep_for(500ms);  // the last frames cross the veth and are counted
    col.kill_now(SIGINT);
    ASSERT_EQ(col.wait(20s), 0) << col.output();

    int rc = 0;
    const std::string cmp = rfab::systest::run_capture(
        "python3 " RFAB_SOURCE_DIR "/scripts/gen-compare.py " + truth + " " + records + " 2>&1", rc);
    EXPECT_EQ(rc, 0) << cmp;
    EXPECT_NE(cmp.find("exact: 8 flows, 20000 packets"), std::string::npos) << cmp;

    // The same records through rfab validate's gates, at the truth's boundaries.
    const nlohmann::json sent = rfab::systest::last_json(gen.output());
    uint64_t naks = 0, cnps = 0;
    for (const auto& f : sent["flows"]) {
      naks += f["naks"].get<uint64_t>();
      cnps += f["cnps"].get<uint64_t>();
    }
    ASSERT_GT(naks, 0u) << gen.output().substr(0, 3000);
    ASSERT_GT(cnps, 0u);
    auto validate = [&](const std::string& gates) {
      int code = 0;
      const std::string out = rfab::systest::run_capture(
          rfab::systest::rfab_binary() + " validate --from " + records + " --min-gbps 0 " + gates + " 2>&1", code);
      return std::pair{code, out};
    };
    const std::string at = "--max-loss 1 --max-naks " + std::to_string(naks) + " --max-cnps " + std::to_string(cnps);
    auto [pass, pass_out] = validate(at);
    EXPECT_EQ(pass, 0) << pass_out;
    auto [nak_fail, nak_out] = validate("--max-loss 1 --max-naks " + std::to_string(naks - 1));
    EXPECT_EQ(nak_fail, 1) << nak_out;
    auto [cnp_fail, cnp_out] = validate("--max-loss 1 --max-cnps " + std::to_string(cnps - 1));
    EXPECT_EQ(cnp_fail, 1) << cnp_out;
    auto [loss_fail, loss_out] = validate("--max-loss 0");
    EXPECT_EQ(loss_fail, 1) << loss_out;
    for (const auto& f : {records, truth}) std::filesystem::remove(f);
  }

  std::unique_ptr<NetnsPair> net_;
};

TEST_F(GenNetns, DpdkGenToDpdkCollectorCountsExactly) {
  gen_to_collector({"--dpdk-args", eal(net_->if_b, "col")}, {"--dpdk-args", eal(net_->if_a, "gen")}, "dpdk-dpdk");
}

TEST_F(GenNetns, DpdkGenToEbpfXdpCollectorCountsExactly) {
  gen_to_collector({"--iface", net_->if_b, "--hook", "xdp"}, {"--dpdk-args", eal(net_->if_a, "gen")}, "dpdk-xdp");
}

TEST_F(GenNetns, DpdkGenToEbpfTcCollectorCountsExactly) {
  gen_to_collector({"--iface", net_->if_b, "--hook", "tc"}, {"--dpdk-args", eal(net_->if_a, "gen")}, "dpdk-tc");
}

#ifdef RFAB_TEST_AFXDP
TEST_F(GenNetns, AfxdpGenToDpdkCollectorCountsExactly) {
  gen_to_collector({"--dpdk-args", eal(net_->if_b, "col")}, {"--afxdp", net_->if_a}, "afxdp-dpdk");
}
#endif

TEST_F(GenNetns, DpdkCollectorBadPortIsAClearError) {
  int rc = 0;
  const std::string out = rfab::systest::run_capture(
      "ip netns exec " + net_->ns_b + " " + rfab::systest::rfab_binary() + " collect --dpdk-args '" +
          eal(net_->if_b, "bad") + "' --dpdk-port 3 --duration 1s 2>&1",
      rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("no port 3"), std::string::npos) << out;
  const std::string both = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " collect --iface lo --hook tc --dpdk-args x --duration 1s 2>&1", rc);
  EXPECT_EQ(rc, 2) << both;
  EXPECT_NE(both.find("not both"), std::string::npos) << both;
}

}  // namespace
