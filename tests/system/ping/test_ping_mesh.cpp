// `rfab ping` across four namespaces on one switch: a healthy mesh gives the full matrix and exit 0; a
// host cut off the switch is named as the one fault by every agent (itself included), within the --wait
// bound rather than hanging.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "mesh_net.hpp"
#include "netns.hpp"
#include "ping_run.hpp"

namespace {
using rfab::systest::MeshNet;
using rfab::systest::pair_of;
using rfab::systest::run_agents;

TEST(PingMesh, HealthyMeshGivesTheFullMatrix) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  MeshNet net(4);
  // Probes get a second to complete and are resent only after 268 ms (code 16), so an agent that a loaded
  // machine keeps off the CPU for tens of ms is not loss (the defaults are 100 ms and 34 ms); rounds are
  // 50 ms apart so that such a probe rarely holds its entropy's next round back.
  const auto res = run_agents(net.ns, {"--hosts", net.host_file(), "--count", "10", "--entropies", "8", "--wait", "10s",
                                       "--timeout", "1s", "--ack-timeout", "16", "--interval", "50ms"});
  for (size_t i = 0; i < res.size(); ++i) {
    const auto& r = res[i];
    ASSERT_EQ(r.rc, 0) << r.out;
    ASSERT_TRUE(r.json.is_object()) << r.out;
    EXPECT_EQ(r.json["self"], i);
    EXPECT_TRUE(r.json["ok"].get<bool>()) << r.out;
    EXPECT_EQ(r.json["pairs"].size(), 12u) << r.out;  // every row arrived, not only this agent's
    for (const auto& p : r.json["pairs"]) {
      EXPECT_TRUE(p["reached"].get<bool>()) << p.dump();
      EXPECT_EQ(p["lost"], 0u) << p.dump();
      // 8 entropies x 10 rounds; a round finding the previous probe still out (a descheduled agent) skips.
      EXPECT_LE(p["sent"], 80u) << p.dump();
      EXPECT_GE(p["sent"], 40u) << p.dump();
      EXPECT_EQ(p["rtt"]["samples"], p["sent"]) << p.dump();
      EXPECT_GT(p["rtt"]["p50_us"].get<double>(), 0);
      EXPECT_LE(p["rtt"]["p50_us"].get<double>(), p["rtt"]["p99_us"].get<double>());
      EXPECT_LE(p["rtt"]["p99_us"].get<double>(), p["rtt"]["max_us"].get<double>());
      std::set<uint16_t> ports;
      for (const auto& e : p["entropies"]) ports.insert(e["src_port"].get<uint16_t>());
      EXPECT_GE(ports.size(), 7u) << "entropies should mostly be distinct source ports: " << p.dump();
    }
  }
  // Every agent judged the same matrix.
  for (size_t i = 1; i < res.size(); ++i)
    for (size_t s = 0; s < 4; ++s)
      for (size_t d = 0; d < 4; ++d)
        if (s != d) {
          const auto a = pair_of(res[0].json, net.ip[s], net.ip[d]), b = pair_of(res[i].json, net.ip[s], net.ip[d]);
          ASSERT_FALSE(a.is_null());
          EXPECT_EQ(a["rtt"], b["rtt"]);
        }
}

TEST(PingMesh, HostDownIsLocalisedToThatHost) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  MeshNet net(4);
  net.isolate(3);
  const auto start = std::chrono::steady_clock::now();
  // The cut-off host runs its agent too: it must name itself, not the three it cannot reach. Probes between
  // the live hosts get a second to complete: on a loaded machine (sanitizer builds, tests in parallel) an
  // agent can answer later than the default 100 ms (or the 34 ms ACK timeout), which would show as loss on a
  // healthy pair.
  const auto res = run_agents(
      net.ns, {"--hosts", net.host_file(), "--count", "10", "--wait", "2s", "--timeout", "1s", "--ack-timeout", "16"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(took, 15.0) << "a dead host must cost the --wait bound, not a hang";
  for (const auto& r : res) {
    ASSERT_EQ(r.rc, 1) << r.out;
    ASSERT_TRUE(r.json.is_object()) << r.out;
    EXPECT_FALSE(r.json["ok"].get<bool>());
    if (r.json["self"] == 3) {
      ASSERT_EQ(r.json["findings"].size(), 1u) << r.json["findings"].dump(2);
      EXPECT_EQ(r.json["findings"][0]["host"], net.ip[3]) << r.out;
      continue;
    }
    ASSERT_EQ(r.json["findings"].size(), 1u) << r.json["findings"].dump(2);
    const auto& f = r.json["findings"][0];
    EXPECT_EQ(f["kind"], "host") << f.dump();
    EXPECT_EQ(f["host"], net.ip[3]) << f.dump();
    for (size_t s = 0; s < 3; ++s) {
      const auto p = pair_of(r.json, net.ip[s], net.ip[3]);
      ASSERT_FALSE(p.is_null());
      EXPECT_FALSE(p["reached"].get<bool>());
      EXPECT_EQ(p["lost"], p["sent"]);
      for (size_t d = 0; d < 3; ++d) {
        if (d != s) {
          EXPECT_EQ(pair_of(r.json, net.ip[s], net.ip[d])["lost"], 0u) << r.out;
        }
      }
    }
    EXPECT_FALSE(r.json["reported"][3].get<bool>());
  }
}

// Continuously, a peer that cannot be reached shows as lost rounds ("failed") once its first connection
// attempt has given up; the reachable peer stays clean, and the run ends at --duration.
TEST(PingMesh, ContinuousCountsAnUnreachablePeerAsLost) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  MeshNet net(3);
  net.isolate(2);
  const auto res = run_agents({net.ns[0], net.ns[1]},
                              {"--hosts", net.host_file(), "--continuous", "--wait", "1s", "--duration", "4s",
                               "--timeout", "1s", "--ack-timeout", "16"},
                              15);
  for (const auto& r : res) {
    EXPECT_EQ(r.rc, 1) << r.out;  // the last verdict names the unreachable peer
    ASSERT_TRUE(r.json.is_object()) << r.out;
    const size_t self = r.json["self"];
    const auto good = pair_of(r.json, net.ip[self], net.ip[1 - self]);
    const auto dead = pair_of(r.json, net.ip[self], net.ip[2]);
    ASSERT_FALSE(good.is_null() || dead.is_null()) << r.out;
    EXPECT_EQ(good["lost"], 0u) << good.dump();
    EXPECT_GT(good["sent"], 8u * 50) << good.dump();  // 20 ms rounds for ~3 s
    EXPECT_FALSE(dead["reached"].get<bool>());
    EXPECT_GT(dead["lost"], 0u) << dead.dump();
    EXPECT_EQ(dead["lost"], dead["sent"]) << dead.dump();
    for (const auto& e : dead["entropies"]) EXPECT_EQ(e["failed"], e["lost"]) << dead.dump();
  }
}

// `rfab doctor --peers` runs a short ping to each peer's `rfab ping --serve` agent.
std::string doctor_ping_verdict(const MeshNet& net, const std::string& peer, std::string& out) {
  rfab::systest::Child d(net.ns[0], {rfab::systest::rfab_binary(), "doctor", "--json", "--iface", "eth0", "--peers", peer,
                                     "--peer-timeout-ms", "1000"},
                         "/tmp/" + net.ns[0] + "-doctor.log");
  d.wait(std::chrono::seconds(20));
  out = d.output();
  const auto j = nlohmann::json::parse(out.substr(std::min(out.find('{'), out.size())), nullptr, false);
  if (j.is_object())
    for (const auto& c : j.value("checks", nlohmann::json::array()))
      if (c.value("check", "") == "ping " + peer) return c.value("verdict", "");
  return "missing";
}

TEST(PingMesh, DoctorPeersRunsAShortPing) {
  if (!rfab::systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
  MeshNet net(3);
  std::string out;
  EXPECT_EQ(doctor_ping_verdict(net, net.ip[1], out), "warn") << out;  // no agent there yet
  EXPECT_NE(out.find("rfab ping --serve"), std::string::npos) << out;
  rfab::systest::Child agent(net.ns[1], {rfab::systest::rfab_binary(), "ping", "--serve", "--self", net.ip[1], "--duration", "20s"},
                             "/tmp/" + net.ns[1] + "-serve.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(doctor_ping_verdict(net, net.ip[1], out), "pass") << out << agent.output();
  EXPECT_NE(out.find("8 entropies x 5 RDMA WRITEs"), std::string::npos) << out;
  // Nothing lost. Rounds that find the previous probe still out send nothing (a descheduled agent on a
  // loaded machine), so fewer than 40 may have been sent, but most rounds must have run.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("([0-9]+) of ([0-9]+) lost"))) << out;
  EXPECT_EQ(std::stoul(m[1].str()), 0u) << out;
  EXPECT_GE(std::stoul(m[2].str()), 20u) << out;
  EXPECT_LE(std::stoul(m[2].str()), 40u) << out;
}

// The ranks of `rfab run` as the host list (local processes on 127.0.0.1, one port pair each); no root.
TEST(PingMesh, RanksOfRfabRunProbeEachOther) {
  int code = 0;
  const std::string b = rfab::systest::rfab_binary();
  const std::string out = rfab::systest::run_capture(
      "timeout 60 " + b + " run -n 3 -- " + b + " ping --ranks --count 5 --json --port 28520 --roce-port 24791"
      " --timeout 1s --ack-timeout 16 --interval 50ms 2>&1",  // a descheduled rank's late ACK is not loss
      code);
  EXPECT_EQ(code, 0) << out;
  size_t agents = 0;
  std::istringstream ss(out);
  for (std::string line; std::getline(ss, line);) {
    const size_t brace = line.find('{');
    if (brace == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line.substr(brace), nullptr, false);
    if (!j.is_object()) continue;
    ++agents;
    EXPECT_TRUE(j["ok"].get<bool>()) << line;
    EXPECT_EQ(j["pairs"].size(), 6u) << line;
    EXPECT_EQ(j["hosts"][2], "rank2") << line;
  }
  EXPECT_EQ(agents, 3u) << out;
}

TEST(PingMesh, BadInputIsExitTwo) {
  int code = 0;
  const std::string b = rfab::systest::rfab_binary();
  auto out = rfab::systest::run_capture(b + " ping --nodelist 'n[3-1]' 2>&1", code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("goes down"), std::string::npos) << out;
  out = rfab::systest::run_capture(b + " ping --nodelist 'n[1-2]' --hosts /nonexistent 2>&1", code);
  EXPECT_EQ(code, 2) << out;
  out = rfab::systest::run_capture(b + " ping --hosts /nonexistent 2>&1", code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("/nonexistent"), std::string::npos) << out;
  out = rfab::systest::run_capture(b + " ping --nodelist 10.255.255.1,10.255.255.2 2>&1", code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--self"), std::string::npos) << out;
}

}  // namespace
