// `rfab ping` on the two-path fabric (docs/fabric-lab.md): hosts A and B joined by two paths with L4
// multipath hashing. With seeded drops on one path, exactly the entropies whose UDP source port the
// switch port counted on that path lose probes (in both directions: a B -> A probe's ACK leaves A with
// the same port), the others none, and the verdict names paths, not hosts or pairs.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "netns.hpp"
#include "ping_run.hpp"
#include "twopath_fabric.hpp"

namespace {
using rfab::systest::pair_of;
using rfab::systest::TwoPathFabric;

std::string host_file(const TwoPathFabric& f) {
  const std::string path = "/tmp/" + f.name + "-ping-hosts.txt";
  std::ofstream(path) << f.ip_a << "\n" << f.ip_b << "\n";
  return path;
}

TEST(PingTwoPath, CleanFabricIsOkOnBothPaths) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  TwoPathFabric f;
  // A late ACK from an agent a loaded machine keeps off the CPU is not loss: 1 s probes, 268 ms ACK timeout.
  const auto res = rfab::systest::run_agents({f.ns_a, f.ns_b}, {"--hosts", host_file(f), "--entropies", "16", "--count", "10",
                                                                "--timeout", "1s", "--ack-timeout", "16", "--interval", "50ms"});
  for (const auto& r : res) {
    ASSERT_EQ(r.rc, 0) << r.out << f.dump();
    EXPECT_TRUE(r.json["ok"].get<bool>());
  }
  // 16 entropies spread over both paths (all on one would be a 2^-15 chance).
  EXPECT_GT(f.forward(0).sport_packets.size(), 0u) << f.dump();
  EXPECT_GT(f.forward(1).sport_packets.size(), 0u) << f.dump();
}

TEST(PingTwoPath, LossOnOnePathIsLocalisedToItsEntropies) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  TwoPathFabric f;
  f.port(1, {"--drop", "50%", "--seed", "11"});
  // The clean path must show no loss even when a loaded machine delays an ACK by tens of ms (134 ms ACK
  // timeout); over 2 s of rounds an entropy on the lossy path still sends enough probes to lose some.
  const auto res = rfab::systest::run_agents({f.ns_a, f.ns_b}, {"--hosts", host_file(f), "--entropies", "16", "--count", "40",
                                                                "--timeout", "1s", "--ack-timeout", "15", "--interval", "50ms"});
  std::set<uint16_t> on_bad, on_good;
  for (const auto& [port, n] : f.forward(1).sport_packets) on_bad.insert(port);
  for (const auto& [port, n] : f.forward(0).sport_packets) on_good.insert(port);
  ASSERT_FALSE(on_bad.empty()) << f.dump();
  ASSERT_GT(f.forward(1).dropped, 0u) << f.dump();
  for (uint16_t p : on_bad) EXPECT_EQ(on_good.count(p), 0u) << "port " << p << " on both paths";

  for (const auto& r : res) {
    ASSERT_EQ(r.rc, 1) << r.out << f.dump();
    ASSERT_TRUE(r.json.is_object()) << r.out;
    size_t bad_seen = 0;
    for (const auto& [src, dst] : {std::pair{f.ip_a, f.ip_b}, std::pair{f.ip_b, f.ip_a}}) {
      const auto p = pair_of(r.json, src, dst);
      ASSERT_FALSE(p.is_null()) << r.out;
      for (const auto& e : p["entropies"]) {
        const uint16_t port = e["src_port"];
        if (on_bad.count(port)) {
          EXPECT_GT(e["lost"].get<uint64_t>(), 0u) << src << " -> " << dst << " port " << port << " crosses the lossy path\n" << r.out;
          ++bad_seen;
        } else {
          EXPECT_EQ(e["lost"].get<uint64_t>(), 0u) << src << " -> " << dst << " port " << port << " stays on the clean path\n" << r.out;
        }
      }
    }
    EXPECT_GT(bad_seen, 0u);
    ASSERT_FALSE(r.json["findings"].empty());
    for (const auto& fi : r.json["findings"]) EXPECT_EQ(fi["kind"], "path") << fi.dump();
  }
}

}  // namespace
