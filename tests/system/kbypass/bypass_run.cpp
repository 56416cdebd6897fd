#include "bypass_run.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace rfab::systest {
using namespace std::chrono_literals;

PerfOutcome run_perf(const NetnsPair& net, const std::string& verb, const std::vector<std::string>& server_args,
                     const std::vector<std::string>& client_args, bool v6) {
  static int runs = 0;
  const std::string tag = "/tmp/" + net.ns_a + "-bypass-" + std::to_string(runs++);
  std::vector<std::string> s{rfab_binary(), "perf", verb, "--server", "--json", "--timeout", "8"};
  s.insert(s.end(), server_args.begin(), server_args.end());
  Child server(net.ns_a, s, tag + "-server.log");
  std::vector<std::string> c{rfab_binary(), "perf", verb, v6 ? net.ip6_a : net.ip4_a, "--json", "--timeout", "8"};
  c.insert(c.end(), client_args.begin(), client_args.end());
  Child client(net.ns_b, c, tag + "-client.log");
  PerfOutcome o;
  o.client_rc = client.wait(25s);
  o.server_rc = server.wait(5s);
  o.client_out = client.output();
  o.server_out = server.output();
  o.client = last_json(o.client_out);
  o.server = last_json(o.server_out);
  std::remove((tag + "-server.log").c_str());
  std::remove((tag + "-client.log").c_str());
  return o;
}

void expect_verified(const NetnsPair& net, const std::string& verb, const std::vector<std::string>& server_args,
                     const std::vector<std::string>& client_args, bool v6) {
  SCOPED_TRACE(verb + " server " + ::testing::PrintToString(server_args) + " client " +
               ::testing::PrintToString(client_args));
  const PerfOutcome o = run_perf(net, verb, server_args, client_args, v6);
  ASSERT_EQ(o.client_rc, 0) << "client:\n" << o.client_out << "\nserver:\n" << o.server_out;
  ASSERT_EQ(o.server_rc, 0) << "server:\n" << o.server_out;
  EXPECT_TRUE(o.client.value("verified", false)) << o.client_out;
  EXPECT_TRUE(o.server.value("verified", false)) << o.server_out;
  EXPECT_GT(o.client.value("iterations", uint64_t{0}), 0u);
}

RoceCapture::RoceCapture(const std::string& ns, const std::string& ifname, const std::string& tag) {
  file_ = "/tmp/" + ns + "-" + tag + ".pcapng";
  std::filesystem::remove(file_);
  proc_ = std::make_unique<Child>(
      ns, std::vector<std::string>{"dumpcap", "-q", "-i", ifname, "-f", "udp port 4791", "-a", "duration:60", "-w", file_},
      file_ + ".log");
  for (int i = 0; i < 500; ++i) {  // until dumpcap has written its file header
    std::error_code ec;
    if (std::filesystem::file_size(file_, ec) > 0 && !ec) return;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "dumpcap did not start: " << proc_->output();
}

RoceCapture::~RoceCapture() {
  std::filesystem::remove(file_);
  std::filesystem::remove(file_ + ".log");
}

size_t RoceCapture::stop_and_verify() {
  std::this_thread::sleep_for(200ms);
  proc_->kill_now(SIGINT);
  EXPECT_NE(proc_->wait(10s), -1);
  int code = 0;
  const std::string out = run_capture("{ " + rfab_binary() + " decode --verify-icrc " + file_ + " 2>/dev/null; }", code);
  EXPECT_EQ(code, 0) << out.substr(0, 4000);
  EXPECT_EQ(out.find("icrc=BAD"), std::string::npos) << out.substr(0, 4000);
  size_t ok = 0;
  for (size_t pos = 0; (pos = out.find("icrc=ok", pos)) != std::string::npos; ++pos) ++ok;
  return ok;
}

void segment_in_software(const NetnsPair& net) {
  sh("ip netns exec " + net.ns_a + " ethtool -K " + net.if_a + " tx-udp-segmentation off");
  sh("ip netns exec " + net.ns_b + " ethtool -K " + net.if_b + " tx-udp-segmentation off");
}

}  // namespace rfab::systest
