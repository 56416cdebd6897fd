// `rfab decode` end to end: agreement with tshark field for field on Linux soft-RoCE captures, ICRC
// verification, exit codes, and clear errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.hpp"

using nlohmann::json;
using rfab::test::data_path;
using rfab::test::run_command;

namespace {

const std::string kRfab = RFAB_CLI;

std::string tmpfile(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(getpid()))).string();
}

// Flattens tshark's nested layer objects into field -> first value.
void flatten(const json& j, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it->is_string()) out.emplace(it.key(), it->get<std::string>());
      else flatten(*it, out);
    }
  } else if (j.is_array()) {
    for (const auto& e : j) flatten(e, out);
  }
}

std::vector<json> rfab_json_lines(const std::string& args, int* rc) {
  std::string out = run_command(kRfab + " decode " + args + " --json 2>&1", rc);
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

// Every field rfab prints under a Wireshark name must equal what tshark prints for the same frame.
void agree_with_tshark(const std::string& pcap) {
  int rc = 0;
  auto ours = rfab_json_lines(pcap + " --verify-icrc", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_FALSE(ours.empty());
  std::string ts = run_command("tshark -n -r " + pcap + " -T json 2>/dev/null", &rc);
  ASSERT_EQ(rc, 0) << "tshark failed";
  json frames = json::parse(ts);
  size_t compared = 0, fields = 0;
  for (const auto& o : ours) {
    if (o.contains("rfab.summary")) {
      EXPECT_EQ(o["rfab.summary"]["icrc_bad"], 0);
      EXPECT_EQ(o["rfab.summary"]["malformed"], 0);
      continue;
    }
    ASSERT_TRUE(o["rfab.icrc_ok"].get<bool>()) << o.dump();
    size_t n = std::stoul(o["frame.number"].get<std::string>());
    ASSERT_LE(n, frames.size());
    std::map<std::string, std::string> theirs;
    flatten(frames[n - 1]["_source"]["layers"], theirs);
    const bool is_cnp = o["infiniband.bth.opcode"] == "129";
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      if (k.rfind("rfab.", 0) == 0 || k.rfind("frame.", 0) == 0) continue;
      if (is_cnp && k == "infiniband.invariant.crc") continue;  // tshark does not show a CNP's ICRC
      auto t = theirs.find(k);
      ASSERT_NE(t, theirs.end()) << "frame " << n << ": tshark has no field " << k;
      EXPECT_EQ(it->get<std::string>(), t->second) << "frame " << n << " field " << k;
      ++fields;
    }
    ++compared;
  }
  EXPECT_GT(compared, 50u);
  EXPECT_GT(fields, compared * 10);
}

}  // namespace

TEST(DecodeCli, AgreesWithTsharkOnRxeSendCapture) { agree_with_tshark(data_path("rxe/mtu1024_send_64.pcap")); }
TEST(DecodeCli, AgreesWithTsharkOnRxeReadCapture) { agree_with_tshark(data_path("rxe/mtu1024_read_64.pcap")); }

TEST(DecodeCli, AgreesWithTsharkOnEveryOpcode) {
  for (std::string flags : {"", "--ipv6", "--vlan 7"}) {
    auto f = tmpfile("rfab_every_opcode.pcap");
    int rc = 0;
    run_command(kRfab + " synth " + f + " --rounds 2 " + flags, &rc);
    ASSERT_EQ(rc, 0);
    agree_with_tshark(f);
    std::filesystem::remove(f);
  }
}

TEST(DecodeCli, TextOutputSummarisesAndCountsNonRoce) {
  int rc = 0;
  std::string out = run_command(kRfab + " decode " + data_path("rxe/mtu1024_send_64.pcap") + " --verify-icrc", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("RC_SEND_ONLY"), std::string::npos);
  EXPECT_NE(out.find("icrc=ok"), std::string::npos);
  // perftest's TCP exchange is in the capture: counted and skipped.
  EXPECT_NE(out.find("other (skipped)"), std::string::npos);
  EXPECT_EQ(out.find("icrc=BAD"), std::string::npos);
  EXPECT_NE(out.find("bad 0"), std::string::npos);
}

TEST(DecodeCli, BadIcrcExitsOne) {
  auto f = tmpfile("rfab_bad.pcap");
  int rc = 0;
  run_command(kRfab + " synth " + f + " --corrupt-every 5", &rc);
  ASSERT_EQ(rc, 0);
  std::string out = run_command(kRfab + " decode " + f + " --verify-icrc 2>&1", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("icrc=BAD"), std::string::npos);
  // Without --verify-icrc the same file decodes fine.
  run_command(kRfab + " decode " + f + " -q", &rc);
  EXPECT_EQ(rc, 0);
  std::filesystem::remove(f);
}

TEST(DecodeCli, BadInputExitsTwoWithClearMessage) {
  int rc = 0;
  std::string out = run_command(kRfab + " decode /nonexistent.pcap 2>&1", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("/nonexistent.pcap"), std::string::npos) << out;

  auto f = tmpfile("rfab_notpcap");
  std::ofstream(f) << "this is not a capture file\n";
  out = run_command(kRfab + " decode " + f + " 2>&1", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find(f), std::string::npos) << out;
  std::filesystem::remove(f);

  out = run_command(kRfab + " decode " + data_path("rxe/mtu1024_send_64.pcap") + " --filter 'bogus (((' 2>&1", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("bad filter"), std::string::npos) << out;

  out = run_command(kRfab + " decode " + data_path("rxe/mtu1024_send_64.pcap") + " --opcode NOPE 2>&1", &rc);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown opcode"), std::string::npos) << out;

  out = run_command(kRfab + " decode --no-such-flag x.pcap 2>&1", &rc);
  EXPECT_EQ(rc, 2);
}

TEST(DecodeCli, FiltersSelectPackets) {
  int rc = 0;
  auto v = rfab_json_lines(data_path("rxe/mtu1024_read_64.pcap") + " --opcode RC_RDMA_READ_REQUEST", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_GT(v.size(), 1u);
  for (size_t i = 0; i + 1 < v.size(); ++i) EXPECT_EQ(v[i]["infiniband.bth.opcode"], "12");
  auto w = rfab_json_lines(data_path("rxe/mtu1024_read_64.pcap") + " --filter 'src host 10.77.0.1'", &rc);
  ASSERT_EQ(rc, 0);
  for (size_t i = 0; i + 1 < w.size(); ++i) EXPECT_EQ(w[i]["ip.src"], "10.77.0.1");
  EXPECT_GT(w.size(), 1u);
}

TEST(DecodeCli, VersionAndHelpListSubcommands) {
  int rc = 0;
  std::string out = run_command(kRfab + " --version", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("rfab "), std::string::npos);
  out = run_command(kRfab + " --help", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("decode"), std::string::npos);
  EXPECT_NE(out.find("synth"), std::string::npos);
}
