// libnccl-net-rfab.so across two network namespaces on a veth pair, driven by nccl_net_harness (one
// process per namespace, each both sending and receiving, as two NCCL ranks' proxies would).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "netns.hpp"

namespace rfab::systest {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A scratch directory for the handle files and logs, removed afterwards.
struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("rfab-nccl-net-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator/(const std::string& f) const { return (dir / f).string(); }
};

// argv for one harness rank in namespace `ifname`'s side; `a` names this rank's files.
std::vector<std::string> harness(const Scratch& s, const std::string& ifname, int rank, std::vector<std::string> extra,
                                 bool by_name = false) {
  const std::string me = rank == 0 ? "a" : "b", peer = rank == 0 ? "b" : "a";
  std::vector<std::string> argv = {"env", "RFAB_NCCL_IFACE==" + ifname, "RFAB_NCCL_TRANSPORT=udp"};
  if (by_name) {
    // The README's way: NCCL_NET_PLUGIN names the plugin, the loader path finds libnccl-net-rfab.so.
    argv.insert(argv.end(), {"NCCL_NET_PLUGIN=rfab", std::string("LD_LIBRARY_PATH=") + RFAB_NCCL_NET_DIR});
  }
  argv.push_back(RFAB_NCCL_HARNESS);
  if (by_name)
    argv.insert(argv.end(), {"--net-plugin", "rfab"});
  else
    argv.insert(argv.end(), {"--plugin", RFAB_NCCL_NET_PLUGIN});
  argv.insert(argv.end(), {"--handle-out", s / me, "--handle-in", s / peer, "--rank", std::to_string(rank)});
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

class NcclNetNetns : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root for network namespaces";
  }
};

// Every size (0, 1, odd, the RoCE MTU +-1 for MTU 1024 and 4096, multi-MiB), grouped receives of up to
// four tags, eight rounds outstanding, both directions at once; the link MTU decides the RoCE MTU.
TEST_P(NcclNetNetns, EverySizeBothDirectionsByteForByte) {
  NetnsPair net(GetParam());
  Scratch s;
  Child a(net.ns_a, harness(s, net.if_a, 0, {"--iters", "4"}), s / "a.log");
  Child b(net.ns_b, harness(s, net.if_b, 1, {"--iters", "4"}), s / "b.log");
  const int ra = a.wait(seconds(180)), rb = b.wait(seconds(30));
  EXPECT_EQ(ra, 0) << a.output();
  EXPECT_EQ(rb, 0) << b.output();
  for (const Child* c : {&a, &b}) {
    const std::string out = c->output();
    EXPECT_NE(out.find("size 4097 ok"), std::string::npos) << out;
    EXPECT_NE(out.find("size 9437184 ok"), std::string::npos) << out;
    EXPECT_NE(out.find("\"ok\": true"), std::string::npos) << out;
  }
}

INSTANTIATE_TEST_SUITE_P(LinkMtu, NcclNetNetns, ::testing::Values(9000, 1500),
                         [](const auto& p) { return "mtu" + std::to_string(p.param); });

class NcclNetNetnsFailure : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!running_as_root()) GTEST_SKIP() << "needs root for network namespaces";
  }
};

// Loaded the way docs/nccl-net-plugin.md and the README tell NCCL users to: by name, from the loader path.
TEST(NcclNetNetnsSnippet, LoadsByNameLikeNccl) {
  if (!running_as_root()) GTEST_SKIP() << "needs root for network namespaces";
  NetnsPair net;
  Scratch s;
  const std::vector<std::string> opts = {"--sizes", "0,1,4097,1M", "--iters", "2"};
  Child a(net.ns_a, harness(s, net.if_a, 0, opts, true), s / "a.log");
  Child b(net.ns_b, harness(s, net.if_b, 1, opts, true), s / "b.log");
  EXPECT_EQ(a.wait(seconds(60)), 0) << a.output();
  EXPECT_EQ(b.wait(seconds(30)), 0) << b.output();
  EXPECT_NE(a.output().find("from libnccl-net-rfab.so"), std::string::npos) << a.output();
}

// A rank killed (SIGKILL) in the middle of multi-MiB transfers both ways: the survivor's next isend, irecv
// or test returns an error within a few seconds instead of waiting forever.
TEST_P(NcclNetNetnsFailure, KilledPeerFailsTheSurvivorQuickly) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "a timing and rate test: AddressSanitizer's slowdown changes what it measures";
#endif
  NetnsPair net;
  Scratch s;
  const std::vector<std::string> opts = {"--sizes", "1M,4M", "--iters", "4", "--seconds", "120"};
  Child a(net.ns_a, harness(s, net.if_a, 0, opts), s / "a.log");
  Child b(net.ns_b, harness(s, net.if_b, 1, opts), s / "b.log");
  Child& victim = GetParam() == 0 ? a : b;
  Child& survivor = GetParam() == 0 ? b : a;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (survivor.output().find("size 4194304 ok") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << survivor.output();
    ASSERT_EQ(survivor.wait(milliseconds(0)), -1) << survivor.output();
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(300));  // into the next pass: requests outstanding both ways
  const auto killed = std::chrono::steady_clock::now();
  victim.kill_now(SIGKILL);
  const int rc = survivor.wait(seconds(5));
  const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  const std::string out = survivor.output();
  ASSERT_NE(rc, -1) << "the survivor still waits 5 s after its peer died:\n" << out;
  EXPECT_EQ(rc, 2) << out;  // the plugin returned an error
  EXPECT_NE(out.find("ncclRemoteError"), std::string::npos) << out;
  std::printf("survivor failed %.3f s after the kill: %s\n", after,
              out.substr(out.find("plugin error")).c_str());
}

// The link goes down in the middle of transfers (a dead host, a cut cable: no TCP end to notice): the
// RC retries run out and both ranks' next calls fail.
TEST(NcclNetNetnsLinkCut, BothRanksFailWhenTheLinkDies) {
  if (!running_as_root()) GTEST_SKIP() << "needs root for network namespaces";
  NetnsPair net;
  Scratch s;
  const std::vector<std::string> opts = {"--sizes", "1M,4M", "--iters", "4", "--seconds", "120"};
  Child a(net.ns_a, harness(s, net.if_a, 0, opts), s / "a.log");
  Child b(net.ns_b, harness(s, net.if_b, 1, opts), s / "b.log");
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (a.output().find("size 4194304 ok") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << a.output();
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(300));
  const auto cut = std::chrono::steady_clock::now();
  sh("ip -n " + net.ns_a + " link set " + net.if_a + " down");
  for (Child* c : {&a, &b}) {
    const int rc = c->wait(seconds(60));
    const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - cut).count();
    const std::string out = c->output();
    ASSERT_NE(rc, -1) << "still waiting 60 s after the link went down:\n" << out;
    EXPECT_EQ(rc, 2) << out;
    std::printf("failed %.3f s after the cut: %s\n", after, out.substr(out.find("plugin error")).c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Victim, NcclNetNetnsFailure, ::testing::Values(0, 1),
                         [](const auto& p) { return "rank" + std::to_string(p.param); });

}  // namespace
}  // namespace rfab::systest
