// The hardening cases of `rfab` that are not one rule across flags: output that cannot be written, a
// verification that verified nothing, and work too large for memory, each refused with a clear message and
// a nonzero exit instead of a silent wrong answer or std::bad_alloc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

const std::string kRfab = RFAB_CLI;

struct Outcome {
  int rc = 0;
  std::string out;
};

Outcome rfab(const std::string& args) {
  Outcome r;
  r.out = rfab::test::run_command(kRfab + " " + args + " 2>&1 </dev/null", &r.rc);
  return r;
}

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rfab-cases-" + std::to_string(getpid()) + "-" + name)).string();
}

#define EXPECT_MENTIONS(run, text) EXPECT_NE((run).out.find(text), std::string::npos) << (run).out

// ---- write errors -------------------------------------------------------------------------------------

TEST(CliCases, SynthToAFullDiskFails) {
  const Outcome r = rfab("synth /dev/full");
  EXPECT_EQ(r.rc, 1);
  EXPECT_MENTIONS(r, "/dev/full: write failed: No space left on device");
  EXPECT_EQ(r.out.find("wrote"), std::string::npos) << "no success line after a failed write: " << r.out;
}

TEST(CliCases, StandardOutputToAFullDiskFails) {
  const std::string pcap = tmp("ok.pcap");
  ASSERT_EQ(rfab("synth " + pcap).rc, 0);
  int rc = 0;
  const std::string err = rfab::test::run_command(kRfab + " decode " + pcap + " 2>&1 >/dev/full", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("writing standard output failed"), std::string::npos) << err;
  std::filesystem::remove(pcap);
}

// collect needs CAP_BPF and a tc hook: it runs on the loopback of a namespace of its own.
TEST(CliCases, CollectJsonFileToAFullDiskFails) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a network namespace and a tc hook)";
  const std::string ns = "rfabcases" + std::to_string(getpid());
  int rc = 0;
  rfab::test::run_command("ip netns add " + ns + " && ip -n " + ns + " link set lo up", &rc);
  if (rc != 0) GTEST_SKIP() << "cannot create a network namespace";
  const std::string out = rfab::test::run_command("ip netns exec " + ns + " " + kRfab +
                                                      " collect --iface lo --hook tc --interval 10ms --duration 300ms"
                                                      " --json-file /dev/full 2>&1 >/dev/null",
                                                  &rc);
  rfab::test::run_command("ip netns del " + ns);
  if (out.find("needs CAP_BPF") != std::string::npos) GTEST_SKIP() << out;
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("--json-file '/dev/full': write failed"), std::string::npos) << out;
}

// ---- verification that verified nothing ---------------------------------------------------------------

// Rewrites a classic pcap with every frame cut to `snaplen` bytes, as `tcpdump -s 10` would have captured it.
void truncate_pcap(const std::string& in, const std::string& out, uint32_t snaplen) {
  std::ifstream f(in, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GE(b.size(), 24u);
  std::vector<char> o(b.begin(), b.begin() + 24);
  std::memcpy(o.data() + 16, &snaplen, 4);
  for (size_t p = 24; p + 16 <= b.size();) {
    uint32_t incl = 0;
    std::memcpy(&incl, b.data() + p + 8, 4);
    const uint32_t keep = std::min(incl, snaplen);
    std::vector<char> h(b.begin() + long(p), b.begin() + long(p) + 16);
    std::memcpy(h.data() + 8, &keep, 4);  // orig_len (offset 12) keeps the wire length
    o.insert(o.end(), h.begin(), h.end());
    o.insert(o.end(), b.begin() + long(p) + 16, b.begin() + long(p) + 16 + keep);
    p += 16 + incl;
  }
  std::ofstream(out, std::ios::binary).write(o.data(), std::streamsize(o.size()));
}

TEST(CliCases, VerifyIcrcFailsWhenNothingCouldBeVerified) {
  const std::string whole = tmp("whole.pcap"), cut = tmp("cut.pcap");
  ASSERT_EQ(rfab("synth " + whole).rc, 0);
  truncate_pcap(whole, cut, 10);
  Outcome r = rfab("decode --verify-icrc -q " + cut);
  EXPECT_EQ(r.rc, 1);
  EXPECT_MENTIONS(r, "no ICRC could be verified");
  EXPECT_MENTIONS(r, "38 cut short by the capture's snaplen");
  // The same frames whole verify, and without --verify-icrc the cut capture is not an error.
  EXPECT_EQ(rfab("decode --verify-icrc -q " + whole).rc, 0);
  EXPECT_EQ(rfab("decode -q " + cut).rc, 0);
  std::filesystem::remove(whole);
  std::filesystem::remove(cut);
}

// ---- memory and time bounds ----------------------------------------------------------------------------

TEST(CliCases, EmulateRefusesATreeThatCannotFit) {
  const Outcome r = rfab("emulate --topo fat-tree:k=1024");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "268435456 hosts");
  EXPECT_MENTIONS(r, "needs an estimated");
  EXPECT_MENTIONS(r, "more than the memory limit of");
  EXPECT_EQ(r.out.find("bad_alloc"), std::string::npos) << r.out;
}

TEST(CliCases, EmulateRefusesRcAllToAllBeforeAllocating) {
  const Outcome r = rfab("emulate --topo fat-tree:k=16 --hosts rc --traffic all-to-all:bytes=64K");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "1047552 flows (rc hosts) needs an estimated");
}

TEST(CliCases, EmulateHonoursMaxMemoryAndMaxEvents) {
  Outcome r = rfab("emulate --topo fat-tree:k=4 --time 20us --max-memory 1M");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "more than the memory limit of 1.0 MiB (--max-memory)");
  r = rfab("emulate --topo fat-tree:k=8 --time 200us --max-events 300000 --quiet");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "more than the limit of 300000");
  // Within the limits the run goes, and reports its estimate next to what it used.
  r = rfab("emulate --topo fat-tree:k=4 --time 20us --max-memory 256M --json --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["memory_estimate_bytes"].get<uint64_t>(), 0u);
  EXPECT_LT(j["peak_rss_bytes"].get<uint64_t>(), uint64_t{256} << 20);
}

TEST(CliCases, EmulateTrafficFileIsBounded) {
  const Outcome r = rfab("emulate --topo fat-tree:k=4 --traffic file:/dev/zero");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "/dev/zero:1: line longer than 4096 bytes");
}

TEST(CliCases, EmulateZeroSizedFlowsAndBuffersAreRefused) {
  for (const char* args : {"--traffic permutation:bytes=0", "--traffic all-to-all:bytes=0", "--buffer 100",
                           "--topo fat-tree:k=0", "--topo fat-tree:hosts=0"}) {
    const Outcome r = rfab(std::string("emulate --topo fat-tree:k=4 ") + args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
  }
  const std::string m = tmp("matrix.txt");
  std::ofstream(m) << "0 1 4K 0\n2 3 0 0\n";
  const Outcome r = rfab("emulate --topo fat-tree:k=4 --traffic file:" + m);
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, m + ":2: ");
  EXPECT_MENTIONS(r, "at least 1 byte");
  std::filesystem::remove(m);
}

// The flow-level engine runs a recorded training step to the end; what it does not model is refused.
TEST(CliCases, EmulateFlowEngineRunsAStepAndRefusesWhatItDoesNotModel) {
  Outcome r = rfab("emulate --engine flow --topo fat-tree:k=4 --traffic step:allreduce=ring,bytes=1M --time 10ms --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["engine"], "flow");
  EXPECT_EQ(j["flows"], 16 * 2 * 15);  // 16 hosts, 2(H-1) blocks each
  EXPECT_EQ(j["flows_completed"], j["flows"]);
  EXPECT_GT(j["last_done_us"].get<double>(), 0.0);
  r = rfab("emulate --topo fat-tree:k=4 --traffic step:allreduce=ring,bytes=1M");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "--engine flow");
  for (const char* args : {"--engine flow --cc dcqcn", "--engine flow --pfc off", "--engine flow --hosts rc",
                           "--engine flow --routing flowlet", "--engine warp"}) {
    r = rfab(std::string("emulate --topo fat-tree:k=4 ") + args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
  }
}

// --calibrate runs a packet-level sample first and reports it; without --engine flow, or with a sample that
// does not fit the fabric, it is refused.
TEST(CliCases, EmulateFlowCalibrationReportsTheSampleAndRefusesBadSamples) {
  Outcome r = rfab("emulate --engine flow --topo fat-tree:k=8 --routing ar:view=path --cc dcqcn --traffic "
                   "permutation:bytes=inf --time 50us --calibrate fat-tree:k=4 --calibrate-time 60us "
                   "--calibrate-warmup 20us --json --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("calibration")) << r.out;
  const auto& c = j["calibration"];
  EXPECT_EQ(c["sample_hosts"], 16);
  EXPECT_EQ(c["traffic"], "permutation:bytes=inf");
  EXPECT_EQ(c["fallback"], "");
  const double eta = c["efficiency"].get<double>();
  EXPECT_GT(eta, 0.0);
  EXPECT_LE(eta, 1.0);
  EXPECT_GT(c["packet_throughput"].get<double>(), 0.0);
  EXPECT_GT(j["throughput"].get<double>(), 0.0);
  r = rfab("emulate --engine flow --topo fat-tree:k=8 --traffic ring:bytes=1M --time 50us --calibrate fat-tree:k=4 "
           "--calibrate-time 20us --calibrate-warmup 5us --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_MENTIONS(r, "calibration sample");
  EXPECT_MENTIONS(r, "instead of the scenario's");
  EXPECT_MENTIONS(r, "link efficiency");
  for (const char* args : {"--calibrate fat-tree:k=4",  // packet engine
                           "--engine flow --calibrate fat-tree:k=16",
                           "--engine flow --calibrate fat-tree:k=4,speed=100G",
                           "--engine flow --calibrate fat-tree:k=3x",
                           "--engine flow --calibrate fat-tree:k=4 --calibrate-time 10us --calibrate-warmup 10us",
                           "--engine flow --calibrate fat-tree:k=4 --compare ecmp"}) {
    r = rfab(std::string("emulate --topo fat-tree:k=8 --quiet ") + args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_MENTIONS(r, "calibrat");
  }
}

TEST(CliCases, CollRefusesBuffersPastTheMemoryLimit) {
  Outcome r = rfab("coll allreduce -b 16G -e 16G");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "needs an estimated 48.0 GiB");
  r = rfab("coll allreduce -b 1M -e 1M --max-memory 2M");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "(--max-memory)");
  // No row at all is not "OK".
  r = rfab("coll allreduce -b 1 -e 3");
  EXPECT_EQ(r.rc, 2);
  EXPECT_MENTIONS(r, "smaller than one float element");
}

}  // namespace
