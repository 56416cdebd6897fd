// `rfab doctor` on the Ethernet side, inside a network namespace of a veth pair: the netdev's link, MTU,
// addresses and rp_filter, and the peer's neighbour entry after the probe - then the same netdev broken.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;
using rfab::systest::NetnsPair;

struct Doctor {
  int rc = -1;
  std::map<std::string, std::string> verdict;  // check name -> pass|warn|fail|skip
  std::string out;
};

Doctor doctor(const NetnsPair& net, const std::vector<std::string>& args) {
  std::vector<std::string> argv{rfab::systest::rfab_binary(), "doctor", "--json", "--peer-timeout-ms", "300"};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c(net.ns_a, argv, "/tmp/" + net.ns_a + "-doctor.log");
  Doctor d;
  d.rc = c.wait(30s);
  d.out = c.output();
  const auto j = nlohmann::json::parse(d.out.substr(std::min(d.out.find('{'), d.out.size())), nullptr, false);
  if (j.is_object())
    for (const auto& chk : j.value("checks", nlohmann::json::array())) d.verdict[chk.value("check", "")] = chk.value("verdict", "");
  return d;
}

TEST(DoctorNetns, ReadsTheEthernetSideAndThePeersNeighbour) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  NetnsPair net(1500);
  Doctor d = doctor(net, {"--iface", net.if_a, "--peers", net.ip4_b});
  EXPECT_EQ(d.verdict["link " + net.if_a], "pass") << d.out;
  EXPECT_EQ(d.verdict["mtu " + net.if_a], "warn") << d.out;  // 1500 carries RoCE MTU 1024, not 4096
  EXPECT_EQ(d.verdict["addresses " + net.if_a], "pass") << d.out;
  EXPECT_NE(d.out.find(net.ip4_a), std::string::npos) << d.out;
  EXPECT_EQ(d.verdict["neighbour " + net.ip4_b], "pass") << d.out;  // the UDP probe resolved it
  // Nothing listens on 4791 in B: the path works (the neighbour answers) but the RoCE port is closed.
  EXPECT_EQ(d.verdict["peer " + net.ip4_b + " udp/4791"], "fail") << d.out;
  EXPECT_EQ(d.rc, 1) << d.out;
}

TEST(DoctorNetns, BrokenNetdevFails) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  NetnsPair net(9000);
  rfab::systest::sh("ip netns exec " + net.ns_a + " sysctl -qw net.ipv4.conf." + net.if_a + ".rp_filter=1");
  Doctor d = doctor(net, {"--iface", net.if_a});
  EXPECT_EQ(d.verdict["mtu " + net.if_a], "pass") << d.out;
  EXPECT_EQ(d.verdict["rp_filter " + net.if_a], "warn") << d.out;
  rfab::systest::sh("ip -n " + net.ns_a + " link set " + net.if_a + " down");
  d = doctor(net, {"--iface", net.if_a});
  EXPECT_EQ(d.verdict["link " + net.if_a], "fail") << d.out;
  EXPECT_EQ(d.rc, 1) << d.out;
  d = doctor(net, {"--iface", "nosuch0"});
  EXPECT_EQ(d.verdict["link nosuch0"], "fail") << d.out;
  EXPECT_EQ(d.rc, 1) << d.out;
}

}  // namespace
