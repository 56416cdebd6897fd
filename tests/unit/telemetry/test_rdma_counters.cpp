// The sysfs reader against a fake /sys/class/infiniband tree shaped like rdma_rxe's and mlx5's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rfab/telemetry/rdma_counters.hpp"

namespace rfab::telemetry {
namespace {
namespace fs = std::filesystem;

class TelemetryFakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("rft-ib-" + std::to_string(getpid()));
    put("rxe0/ports/1/counters/port_rcv_packets", "1234\n");
    put("rxe0/ports/1/hw_counters/out_of_sequence", "7\n");
    put("rxe0/ports/1/hw_counters/rcvd_rnr_err", "oops\n");  // unreadable values are skipped
    put("rxe0/ports/1/gid_attrs/ndevs/0", "rft0a\n");
    put("mlx5_0/ports/1/hw_counters/np_cnp_sent", "42\n");
    put("mlx5_0/ports/1/hw_counters/rp_cnp_handled", "41\n");
    put("mlx5_0/ports/1/gid_attrs/ndevs/0", "ens1f0\n");
    put("mlx5_0/ports/README", "not a port\n");
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  fs::path root_;
};

TEST_F(TelemetryFakeSysfs, ReadsCountersAndHwCounters) {
  auto c = read_rdma_counters(root_.string());
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].device, "mlx5_0");
  EXPECT_EQ(c[0].name, "np_cnp_sent");
  EXPECT_TRUE(c[0].hw);
  EXPECT_EQ(c[0].value, 42u);
  EXPECT_EQ(c[0].netdev, "ens1f0");
  EXPECT_EQ(c[2].device, "rxe0");
  EXPECT_EQ(c[2].name, "port_rcv_packets");
  EXPECT_FALSE(c[2].hw);
  EXPECT_EQ(c[2].value, 1234u);
  EXPECT_EQ(c[3].name, "out_of_sequence");
  EXPECT_EQ(c[3].port, 1u);
}

TEST_F(TelemetryFakeSysfs, FiltersByNetdevAndBecomesMetrics) {
  auto c = read_rdma_counters(root_.string(), "rft0a");
  ASSERT_EQ(c.size(), 2u);
  Metrics m;
  add_rdma_metrics(m, c);
  const auto* hw = m.find("rfab_rdma_hw_counter");
  ASSERT_NE(hw, nullptr);
  ASSERT_EQ(hw->samples.size(), 1u);
  EXPECT_EQ(hw->samples[0].value, 7);
  EXPECT_NE(m.find("rfab_rdma_port_counter"), nullptr);
}

TEST(TelemetryRdmaCounters, NoDevicesIsEmptyNotAnError) {
  EXPECT_TRUE(read_rdma_counters("/nonexistent/rft").empty());
}

}  // namespace
}  // namespace rfab::telemetry
