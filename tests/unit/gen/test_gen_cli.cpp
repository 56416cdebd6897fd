// `rfab gen --pcap-out`: every frame decodes and its ICRC verifies with `rfab decode --verify-icrc`, tshark
// (when installed) dissects every frame as InfiniBand without a malformed or expert warning, and the JSON
// truth adds up to the file; bad combinations of flags exit 2 naming the problem (each numeric flag's
// bad values are covered by tests/unit/cli/test_cli_inputs.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "test_support.hpp"

namespace {

const std::string kRfab = RFAB_CLI;

struct Outcome {
  int rc = 0;
  std::string out;
};

Outcome sh(const std::string& cmd) {
  Outcome r;
  r.out = rfab::test::run_command("{ " + cmd + "; } 2>&1 </dev/null", &r.rc);
  return r;
}

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rfab-gen-" + std::to_string(getpid()) + "-" + name)).string();
}

const std::string kTraffic =
    " --count 3000 --mix write=50,send=30,read=20 -s 5000 --mtu 1024 --qps 4 --gap-rate 0.05 --ecn-ce-rate 0.1"
    " --cnp-rate 0.05 --nak-rate 0.05 --seed 3";

TEST(GenCli, PcapIsByteExactAndTheTruthAddsUp) {
  const std::string f = tmp("exact.pcap");
  const Outcome g = sh(kRfab + " gen --pcap-out " + f + kTraffic + " --json");
  ASSERT_EQ(g.rc, 0) << g.out;
  const auto j = nlohmann::json::parse(g.out.substr(g.out.find('{')));
  EXPECT_EQ(j["packets"], 3000);
  uint64_t packets = 0, bytes = 0, skipped = 0;
  for (const auto& fl : j["flows"]) {
    packets += fl["packets"].get<uint64_t>();
    bytes += fl["bytes"].get<uint64_t>();
    skipped += fl["psn_skipped"].get<uint64_t>();
  }
  EXPECT_EQ(packets, 3000u);
  EXPECT_EQ(bytes, j["bytes"].get<uint64_t>());
  EXPECT_GT(skipped, 0u);
  EXPECT_EQ(j["flows"].size(), 8u);  // 4 QPs, both directions (READ responses, CNPs, NAKs come back)

  const Outcome d = sh(kRfab + " decode --verify-icrc --json " + f);
  ASSERT_EQ(d.rc, 0) << d.out.substr(0, 2000);
  const Outcome summary = sh(kRfab + " decode --verify-icrc -q " + f);
  EXPECT_NE(summary.out.find("3000 frames: 3000 RoCE v2, 0 other (skipped), 0 malformed"), std::string::npos)
      << summary.out;
  EXPECT_NE(summary.out.find("ICRC ok 3000, bad 0"), std::string::npos) << summary.out;

  if (sh("command -v tshark").rc == 0) {
    const Outcome t = sh("tshark -r " + f + " -T fields -e frame.protocols 2>/dev/null | grep -c ':infiniband'");
    EXPECT_EQ(std::stoul(t.out), 3000u) << t.out;
    const Outcome bad = sh("tshark -r " + f + " -V 2>/dev/null | grep -ciE 'malformed|expert info'");
    EXPECT_EQ(bad.out.substr(0, 1), "0") << bad.out;
  }
  std::filesystem::remove(f);
}

TEST(GenCli, SameSeedSameBytes) {
  const std::string a = tmp("a.pcap"), b = tmp("b.pcap");
  ASSERT_EQ(sh(kRfab + " gen --pcap-out " + a + kTraffic).rc, 0);
  ASSERT_EQ(sh(kRfab + " gen --pcap-out " + b + kTraffic).rc, 0);
  // Frames only (pcap record headers carry the send time).
  const Outcome da = sh("tshark -r " + a + " -T fields -e data.data -e frame.len -e infiniband.invariant.crc 2>/dev/null | md5sum");
  const Outcome db = sh("tshark -r " + b + " -T fields -e data.data -e frame.len -e infiniband.invariant.crc 2>/dev/null | md5sum");
  EXPECT_EQ(da.out, db.out);
  const Outcome ra = sh(kRfab + " decode " + a + " | cut -c 24- | md5sum");
  const Outcome rb = sh(kRfab + " decode " + b + " | cut -c 24- | md5sum");
  EXPECT_EQ(ra.out, rb.out);
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

TEST(GenCli, BadFlagsExit2NamingTheProblem) {
  const std::string f = tmp("bad.pcap");
  const std::pair<std::string, std::string> cases[] = {
      {"--count 1", "exactly one output"},
      {"--pcap-out " + f + " --dpdk-args x --count 1", "exactly one output"},
      {"--pcap-out " + f, "--count"},
      {"--pcap-out " + f + " --count 1 --mix write=1,fetch=2", "fetch"},
      {"--pcap-out " + f + " --count 1 --mix write=0", "every weight is 0"},
      {"--pcap-out " + f + " --count 1 --mtu 1500", "--mtu"},
      {"--pcap-out " + f + " --count 1 --gap-rate 1", "--gap-rate"},
      {"--pcap-out " + f + " --count 1 --src-ip 10.0.0", "--src-ip"},
      {"--pcap-out " + f + " --count 1 --dst-ip fd00::2", "must both be IPv4 or both IPv6"},
      {"--pcap-out " + f + " --count 1 --dst-mac 02:00", "--dst-mac"},
      {"--pcap-out " + f + " --count 1 --dpdk-port 1", "--dpdk-port needs --dpdk-args"},
      {"--pcap-out " + f + " --count 1 --qps 100 --sport-base 65500", "--sport-base"},
      {"--pcap-out /nonexistent-dir/x.pcap --count 1", "/nonexistent-dir/x.pcap"},
  };
  for (const auto& [args, text] : cases) {
    const Outcome r = sh(kRfab + " gen " + args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(text), std::string::npos) << args << "\n" << r.out;
  }
  std::filesystem::remove(f);
}

}  // namespace
