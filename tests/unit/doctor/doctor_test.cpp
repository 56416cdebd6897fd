// rfab doctor: inventory parsing and verdicts on fake sysfs trees shaped like rdma_rxe's and mlx5's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "doctor_checks.hpp"
#include "doctor_inventory.hpp"

namespace fs = std::filesystem;
using namespace rfab::cli::doctor;

namespace {

class FakeSys {
 public:
  FakeSys() {
    root_ = fs::temp_directory_path() / ("rfab-doctor-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::create_directories(root_);
  }
  ~FakeSys() { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& content) {
    auto p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content << "\n";
  }
  // An rxe-like port: state, GIDs (fe80 v2 at 0, IPv4 v2 at 1), netdev MTU, counters.
  void rxe_port(const std::string& dev, const std::string& state = "4: ACTIVE", int mtu = 1500) {
    const std::string p = "class/infiniband/" + dev + "/ports/1/";
    put(p + "state", state);
    put(p + "phys_state", "5: LinkUp");
    put(p + "rate", "10 Gb/sec (1X QDR)");
    put(p + "link_layer", "Ethernet");
    put(p + "gids/0", "fe80:0000:0000:0000:5054:00ff:fe77:0001");
    put(p + "gid_attrs/types/0", "RoCE v2");
    put(p + "gid_attrs/ndevs/0", "eth0");
    put(p + "gids/1", "0000:0000:0000:0000:0000:ffff:0a4d:0001");
    put(p + "gid_attrs/types/1", "RoCE v2");
    put(p + "gid_attrs/ndevs/1", "eth0");
    put(p + "gids/2", "0000:0000:0000:0000:0000:0000:0000:0000");
    put(p + "hw_counters/out_of_sequence", "0");
    put(p + "hw_counters/rcvd_pkts", "1234");
    put("class/net/eth0/mtu", std::to_string(mtu));
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
  static inline int counter_ = 0;
};

}  // namespace

TEST(DoctorInventory, NoInfinibandClassIsEmpty) {
  FakeSys s;
  auto inv = read_inventory(s.root());
  EXPECT_TRUE(inv.devices.empty());
  EXPECT_EQ(evaluate_devices(inv).verdict, Verdict::warn);
}

TEST(DoctorInventory, ReadsRxePort) {
  FakeSys s;
  s.rxe_port("rxe0");
  auto inv = read_inventory(s.root());
  ASSERT_EQ(inv.ports.size(), 1u);
  const auto& p = inv.ports[0];
  EXPECT_EQ(p.device, "rxe0");
  EXPECT_EQ(p.state, "ACTIVE");
  EXPECT_EQ(p.phys_state, "LinkUp");
  EXPECT_EQ(p.netdev, "eth0");
  EXPECT_EQ(p.netdev_mtu, 1500);
  ASSERT_EQ(p.gids.size(), 2u);  // the all-zero slot is skipped
  EXPECT_EQ(p.gids[1].ipv4(), "10.77.0.1");
  EXPECT_EQ(recommended_gid(p), 1);
  EXPECT_EQ(p.counters.at("rcvd_pkts"), 1234u);
}

TEST(DoctorChecks, HealthyPortPasses) {
  FakeSys s;
  s.rxe_port("rxe0", "4: ACTIVE", 9000);
  auto p = read_inventory(s.root()).ports.at(0);
  p.active_mtu = 4096;
  EXPECT_EQ(evaluate_port(p).verdict, Verdict::pass);
  EXPECT_EQ(evaluate_mtu(p).verdict, Verdict::pass);
  auto g = evaluate_gids(p);
  EXPECT_EQ(g.verdict, Verdict::pass);
  EXPECT_NE(g.detail.find("use GID index 1 (RoCE v2, 10.77.0.1)"), std::string::npos) << g.detail;
  EXPECT_EQ(evaluate_counters(p).verdict, Verdict::pass);
}

TEST(DoctorChecks, DownPortFailsWithHint) {
  FakeSys s;
  s.rxe_port("rxe0", "1: DOWN");
  auto p = read_inventory(s.root()).ports.at(0);
  auto c = evaluate_port(p);
  EXPECT_EQ(c.verdict, Verdict::fail);
  EXPECT_FALSE(c.hint.empty());
}

TEST(DoctorChecks, MtuLargerThanNetdevFails) {
  FakeSys s;
  s.rxe_port("rxe0", "4: ACTIVE", 1500);
  auto p = read_inventory(s.root()).ports.at(0);
  p.active_mtu = 4096;
  EXPECT_EQ(evaluate_mtu(p).verdict, Verdict::fail);
  p.active_mtu = 1024;  // what rxe picks for 1500: fine, but jumbo frames would allow 4096
  EXPECT_EQ(evaluate_mtu(p).verdict, Verdict::warn);
  p.active_mtu = 512;
  EXPECT_EQ(evaluate_mtu(p).verdict, Verdict::warn);
}

TEST(DoctorChecks, LargestIbMtu) {
  EXPECT_EQ(largest_ib_mtu_for(1500), 1024);
  EXPECT_EQ(largest_ib_mtu_for(4200), 4096);
  EXPECT_EQ(largest_ib_mtu_for(4096), 2048);
  EXPECT_EQ(largest_ib_mtu_for(9000), 4096);
  EXPECT_EQ(largest_ib_mtu_for(300), 0);
}

TEST(DoctorChecks, NoIpv4GidFails) {
  FakeSys s;
  s.rxe_port("rxe0");
  auto p = read_inventory(s.root()).ports.at(0);
  p.gids.clear();
  EXPECT_EQ(evaluate_gids(p).verdict, Verdict::fail);
  p.gids.push_back({0, "fe80:0000:0000:0000:5054:00ff:fe77:0001", "RoCE v2", "eth0"});
  EXPECT_EQ(evaluate_gids(p).verdict, Verdict::warn);
  p.gids.push_back({1, "0000:0000:0000:0000:0000:ffff:0a00:0002", "RoCE v1", "eth0"});
  EXPECT_EQ(evaluate_gids(p).verdict, Verdict::warn);  // a v1 entry is not a RoCE v2 recommendation
}

TEST(DoctorChecks, ErrorCountersWarnWithHints) {
  FakeSys s;
  s.rxe_port("rxe0");
  s.put("class/infiniband/rxe0/ports/1/hw_counters/out_of_sequence", "17");
  s.put("class/infiniband/rxe0/ports/1/hw_counters/rnr_nak_retry_err", "2");
  auto p = read_inventory(s.root()).ports.at(0);
  auto c = evaluate_counters(p);
  EXPECT_EQ(c.verdict, Verdict::warn);
  EXPECT_NE(c.detail.find("out_of_sequence=17"), std::string::npos);
  EXPECT_NE(c.detail.find("rnr_nak_retry_err=2"), std::string::npos);
  EXPECT_NE(c.hint.find("PFC"), std::string::npos);
}

TEST(DoctorChecks, AnyFailed) {
  std::vector<Check> cs{{"a", Verdict::pass, "", ""}, {"b", Verdict::warn, "", ""}};
  EXPECT_FALSE(any_failed(cs));
  cs.push_back({"c", Verdict::fail, "", ""});
  EXPECT_TRUE(any_failed(cs));
}
