// Cross-check with Wireshark's dissector: write a frame of every opcode to a pcap, read it back with
// `tshark -T fields`, and compare every field with what was encoded.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/sample.hpp"
#include "test_support.hpp"

using namespace rfab::wire;

namespace {

const std::vector<std::string> kFields = {
    "infiniband.bth.opcode",    "infiniband.bth.se",       "infiniband.bth.padcnt",     "infiniband.bth.p_key",
    "infiniband.bth.destqp",    "infiniband.bth.a",        "infiniband.bth.psn",        "infiniband.reth.va",
    "infiniband.reth.r_key",    "infiniband.reth.dmalen", "infiniband.aeth.syndrome", "infiniband.aeth.msn",
    "infiniband.immdt",         "infiniband.ieth",         "infiniband.bth.m",   "infiniband.bth.tver",
    "infiniband.atomiceth.swapdt", "infiniband.atomiceth.cmpdt",
    "infiniband.atomicacketh.origremdt", "infiniband.deth.q_key", "infiniband.deth.srcqp",
    "udp.srcport", "ip.dsfield.ecn", "vlan.id"};

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep) out.push_back(cur), cur.clear();
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

// tshark prints a field that occurs twice in the tree as "a,a"; the first is enough.
std::string first(const std::string& s) { return s.substr(0, s.find(',')); }
uint64_t num(const std::string& s) { return s.empty() ? ~0ull : std::stoull(first(s), nullptr, 0); }
uint64_t hexnum(const std::string& s) { return s.empty() ? ~0ull : std::stoull(first(s), nullptr, 16); }  // bare hex

void cross_check(const SampleOptions& opt) {
  auto frames = sample_every_opcode(opt);
  auto path = std::filesystem::temp_directory_path() / ("rfab_tshark_" + std::to_string(getpid()) + ".pcap");
  {
    rfab::pcap::Writer w(path.string());
    uint64_t t = 1'000'000'000;
    for (auto& s : frames) w.write(t += 1000, s.bytes);
  }
  std::string cmd = "tshark -n -r " + path.string() + " -T fields -E separator=/t";
  for (auto& f : kFields) cmd += " -e " + f;
  cmd += " 2>/dev/null";
  int rc = 0;
  std::string out = rfab::test::run_command(cmd, &rc);
  std::filesystem::remove(path);
  ASSERT_EQ(rc, 0) << "tshark failed (is it installed? scripts/install-deps.sh)";
  std::istringstream in(out);
  std::string line;
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, frames.size());
    const auto& s = frames[i++];
    const auto& f = s.fields;
    auto v = split(line, '\t');
    ASSERT_EQ(v.size(), kFields.size()) << line;
    SCOPED_TRACE(std::string(opcode_info(f.bth.opcode)->name) + ": " + line);
    EXPECT_EQ(num(v[0]), f.bth.opcode);
    EXPECT_EQ(num(v[1]), f.bth.se ? 1u : 0u);
    EXPECT_EQ(num(v[2]), (4 - s.payload.size() % 4) % 4);
    EXPECT_EQ(num(v[3]), f.bth.pkey);
    EXPECT_EQ(num(v[4]), f.bth.dest_qp);
    EXPECT_EQ(num(v[5]), f.bth.ack_req ? 1u : 0u);
    EXPECT_EQ(num(v[6]), f.bth.psn);
    if (f.has(kReth)) {  // Wireshark reports the AtomicETH va/rkey under the reth names too
      EXPECT_EQ(num(v[7]), f.reth.va);
      EXPECT_EQ(num(v[8]), f.reth.rkey);
      EXPECT_EQ(num(v[9]), f.reth.dma_len);
    } else if (!f.has(kAtomicEth)) {
      EXPECT_EQ(v[7], "");
    }
    if (f.has(kAeth)) {
      EXPECT_EQ(num(v[10]), f.aeth.syndrome);
      EXPECT_EQ(num(v[11]), f.aeth.msn);
    } else {
      EXPECT_EQ(v[10], "");
    }
    if (f.has(kImmDt)) {
      EXPECT_EQ(hexnum(v[12]), f.imm);
    } else {
      EXPECT_EQ(v[12], "");
    }
    if (f.has(kIeth)) {
      EXPECT_EQ(hexnum(v[13]), f.ieth_rkey);
    } else {
      EXPECT_EQ(v[13], "");
    }
    if (f.has(kAtomicEth)) {
      EXPECT_EQ(num(v[7]), f.atomic.va);
      EXPECT_EQ(num(v[8]), f.atomic.rkey);
      EXPECT_EQ(num(v[16]), f.atomic.swap_add);
      EXPECT_EQ(num(v[17]), f.atomic.compare);
    }
    EXPECT_EQ(num(v[14]), f.bth.mig ? 1u : 0u);
    EXPECT_EQ(num(v[15]), 0u);
    if (f.has(kAtomicAckEth)) {
      EXPECT_EQ(num(v[18]), f.atomic_ack.orig);
    }
    if (f.has(kDeth)) {
      EXPECT_EQ(num(v[19]), f.deth.qkey);
      EXPECT_EQ(num(v[20]), f.deth.src_qp);
    }
    EXPECT_EQ(num(v[21]), s.spec.src_port);
    if (!opt.ipv6) {
      EXPECT_EQ(num(v[22]), static_cast<uint64_t>(opt.ecn));
    }
    if (opt.vlan >= 0) {
      EXPECT_EQ(num(v[23]), static_cast<uint64_t>(opt.vlan));
    }
  }
  EXPECT_EQ(i, frames.size()) << "tshark printed fewer lines than frames written";
}

}  // namespace

TEST(TsharkCrossCheck, EveryOpcodeIpv4) { cross_check({}); }
TEST(TsharkCrossCheck, EveryOpcodeIpv6) { cross_check({.ipv6 = true}); }
TEST(TsharkCrossCheck, EveryOpcodeVlan) { cross_check({.vlan = 42, .ecn = Ecn::ce}); }
