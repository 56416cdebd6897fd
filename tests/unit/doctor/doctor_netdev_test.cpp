// rfab doctor's Ethernet side: netdev verdicts on fake sysfs/procfs trees, /proc/net/route and
// /proc/net/arp parsing, next-hop neighbour verdicts and the choice of netdev.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "doctor_netdev.hpp"

namespace fs = std::filesystem;
using namespace rfab::cli::doctor;

namespace {

class FakeRoot {
 public:
  FakeRoot() {
    root_ = fs::temp_directory_path() / ("rfab-doctor-netdev-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(root_);
  }
  ~FakeRoot() { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& content) {
    auto p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content << "\n";
  }
  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
  static inline int n_ = 0;
};

// A netdev as sysfs and procfs show it.
NetdevInfo fake(FakeRoot& sys, FakeRoot& proc, const std::string& oper, int carrier, int speed, int mtu, int rp_dev,
                int rp_all) {
  sys.put("class/net/ens1/operstate", oper);
  sys.put("class/net/ens1/carrier", std::to_string(carrier));
  sys.put("class/net/ens1/speed", std::to_string(speed));
  sys.put("class/net/ens1/mtu", std::to_string(mtu));
  proc.put("sys/net/ipv4/conf/ens1/rp_filter", std::to_string(rp_dev));
  proc.put("sys/net/ipv4/conf/all/rp_filter", std::to_string(rp_all));
  return read_netdev("ens1", sys.path(), proc.path());
}

TEST(DoctorNetdev, HealthyPortPasses) {
  FakeRoot sys, proc;
  NetdevInfo n = fake(sys, proc, "up", 1, 400000, 9000, 0, 0);
  n.ipv4 = {"10.0.0.1"};
  EXPECT_EQ(evaluate_link(n).verdict, Verdict::pass);
  EXPECT_NE(evaluate_link(n).detail.find("400 Gb/s"), std::string::npos);
  EXPECT_EQ(evaluate_netdev_mtu(n).verdict, Verdict::pass);
  EXPECT_NE(evaluate_netdev_mtu(n).detail.find("RoCE MTU 4096"), std::string::npos);
  EXPECT_EQ(evaluate_addresses(n).verdict, Verdict::pass);
  EXPECT_EQ(evaluate_rp_filter(n).verdict, Verdict::pass);
}

TEST(DoctorNetdev, EachProblemGetsItsVerdictAndAFix) {
  FakeRoot sys, proc;
  const NetdevInfo down = fake(sys, proc, "down", 0, -1, 1500, 1, 0);
  const Check link = evaluate_link(down);
  EXPECT_EQ(link.verdict, Verdict::fail);
  EXPECT_NE(link.hint.find("ip link set ens1 up"), std::string::npos);
  const Check mtu = evaluate_netdev_mtu(down);
  EXPECT_EQ(mtu.verdict, Verdict::warn);  // 1500 carries RoCE MTU 1024
  EXPECT_NE(mtu.detail.find("RoCE MTU 1024"), std::string::npos);
  EXPECT_NE(mtu.hint.find("4176"), std::string::npos);
  EXPECT_EQ(evaluate_addresses(down).verdict, Verdict::fail);
  EXPECT_EQ(evaluate_rp_filter(down).verdict, Verdict::warn);  // strict on the device
  FakeRoot sys2, proc2;
  const NetdevInfo slow = fake(sys2, proc2, "up", 1, 10000, 300, 0, 2);
  EXPECT_EQ(evaluate_link(slow).verdict, Verdict::warn);         // 10 Gb/s physical link
  EXPECT_EQ(evaluate_netdev_mtu(slow).verdict, Verdict::fail);   // nothing fits in 300
  EXPECT_EQ(evaluate_rp_filter(slow).verdict, Verdict::pass);    // loose (2) from conf/all
  EXPECT_NE(evaluate_rp_filter(slow).detail.find("loose"), std::string::npos);
}

// A virtio NIC in the soft-RoCE lab's guests reads operstate "down" with its carrier up and traffic
// flowing: the carrier decides.
TEST(DoctorNetdev, CarrierDecidesOverOperstate) {
  FakeRoot sys, proc;
  const NetdevInfo n = fake(sys, proc, "down", 1, -1, 1500, 0, 0);
  EXPECT_EQ(evaluate_link(n).verdict, Verdict::pass) << evaluate_link(n).detail;
}

TEST(DoctorNetdev, MissingInterfaceFailsWithAHint) {
  FakeRoot sys, proc;
  for (const std::string name : {"nosuch0", "../etc", ""}) {
    const NetdevInfo n = read_netdev(name, sys.path(), proc.path());
    EXPECT_FALSE(n.exists) << name;
    EXPECT_EQ(evaluate_link(n).verdict, Verdict::fail) << name;
  }
}

constexpr const char* kRoutes =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"   // default via 192.0.2.1
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"     // 192.0.2.0/24
    "ens1\t00000A0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"     // 10.10.0.0/16
    "garbage line\n";

TEST(DoctorNetdev, RoutesParseAndMatchTheLongestPrefix) {
  const auto routes = parse_ipv4_routes(kRoutes);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(route_to(routes, 0x0A0A0102)->iface, "ens1");           // 10.10.1.2
  EXPECT_EQ(route_to(routes, 0xC0000205)->gateway, 0u);             // on-link 192.0.2.5
  EXPECT_EQ(route_to(routes, 0x08080808)->gateway, 0xC0000201u);    // default via 192.0.2.1
  EXPECT_TRUE(parse_ipv4_routes("").empty());
}

TEST(DoctorNetdev, NeighbourOfTheNextHop) {
  const auto routes = parse_ipv4_routes(kRoutes);
  const auto arp = parse_arp(
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "10.10.1.2        0x1         0x2         02:00:00:00:00:02     *        ens1\n"
      "10.10.1.3        0x1         0x0         00:00:00:00:00:00     *        ens1\n"
      "192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n");
  ASSERT_EQ(arp.size(), 3u);
  EXPECT_EQ(evaluate_neighbour("10.10.1.2", routes, arp).verdict, Verdict::pass);
  EXPECT_NE(evaluate_neighbour("10.10.1.2", routes, arp).detail.find("02:00:00:00:00:02"), std::string::npos);
  EXPECT_EQ(evaluate_neighbour("10.10.1.3", routes, arp).verdict, Verdict::fail);  // ARP incomplete
  EXPECT_EQ(evaluate_neighbour("10.10.1.4", routes, arp).verdict, Verdict::warn);  // no entry yet
  const Check routed = evaluate_neighbour("8.8.8.8", routes, arp);                  // via the gateway
  EXPECT_EQ(routed.verdict, Verdict::pass);
  EXPECT_NE(routed.detail.find("gateway"), std::string::npos);
  EXPECT_EQ(evaluate_neighbour("fd00::2", routes, arp).verdict, Verdict::skip);
  EXPECT_EQ(evaluate_neighbour("10.10.1.2", {}, arp).verdict, Verdict::fail);      // no route
}

TEST(DoctorNetdev, WhichNetdevRoceUses) {
  const auto routes = parse_ipv4_routes(kRoutes);
  EXPECT_EQ(roce_netdevs("ens9", {"eth0"}, {}, routes), std::vector<std::string>{"ens9"});
  EXPECT_EQ(roce_netdevs("", {"ens1", "", "ens1", "ens2"}, {}, routes), (std::vector<std::string>{"ens1", "ens2"}));
  EXPECT_EQ(roce_netdevs("", {}, {"10.10.3.4"}, routes), std::vector<std::string>{"ens1"});
  EXPECT_EQ(roce_netdevs("", {}, {}, routes), std::vector<std::string>{"eth0"});  // the default route
  EXPECT_TRUE(roce_netdevs("", {}, {}, {}).empty());
}

}  // namespace
