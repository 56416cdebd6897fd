// `rfab emulate --telemetry` records: the collector's field names (taken from the collector's own metrics
// code), totals equal to the emulator's summary, and `rfab validate --from` gating them (and a recorded
// `rfab collect --json-file`) with the live gates: PASS, FAIL naming the gate, and bad files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "emu_records.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/telemetry/flow_metrics.hpp"
#include "rfab/telemetry/json_lines.hpp"
#include "rfab/telemetry/records.hpp"
#include "rfab/topology/spec.hpp"
#include "rfab/base/units.hpp"
#include "test_support.hpp"

namespace {

namespace tm = rfab::telemetry;
using rfab::emu::Report;
using rfab::emu::ScenarioSpec;

const std::string kRfab = RFAB_CLI;
const std::string kData = RFAB_TEST_DATA;

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
  return (std::filesystem::temp_directory_path() / ("rfab-emurec-" + std::to_string(getpid()) + "-" + name)).string();
}

#define EXPECT_MENTIONS(run, text) EXPECT_NE((run).out.find(text), std::string::npos) << (run).out

// Family name -> label keys of its first sample.
std::map<std::string, std::set<std::string>> schema(const tm::Metrics& m) {
  std::map<std::string, std::set<std::string>> s;
  for (const auto& f : m.families()) {
    std::set<std::string> keys;
    if (!f.samples.empty())
      for (const auto& [k, v] : f.samples.front().labels) keys.insert(k);
    s[f.name] = keys;
  }
  return s;
}

// What the collector writes for a snapshot with one flow, in both directions: its record field list.
tm::Metrics collector_metrics() {
  tm::CollectorSnapshot snap;
  for (uint8_t dir : {uint8_t{RFAB_DIR_INGRESS}, uint8_t{RFAB_DIR_EGRESS}}) {
    tm::FlowRecord f;
    f.key.family = 4;
    f.key.qp = 7;
    f.key.dir = dir;
    f.stats.packets = 10;
    f.stats.op_class[RFAB_OPC_WRITE] = 10;
    f.stats.cnps = 1;
    f.stats.op_class[RFAB_OPC_CNP] = 1;
    snap.flows.push_back(f);
  }
  tm::Metrics m;
  tm::add_flow_metrics(m, "eth0", snap);
  return m;
}

Report run(const std::string& topo, const std::string& traffic, bool pfc, const std::string& time,
           uint64_t buffer = 0, const std::string& cc = "none") {
  ScenarioSpec s;
  s.topology = topo;
  s.traffic = traffic;
  s.pfc = pfc;
  s.cc = cc;
  s.duration = rfab::parse_duration_ps(time, "time");
  s.buffer_bytes = buffer;
  s.counters = true;
  return rfab::emu::run_scenario(s);
}

TEST(EmuRecords, FieldNamesAreTheCollectorsOrDocumentedExtensions) {
  const auto collector = schema(collector_metrics());
  const Report r = run("fat-tree:k=4,speed=100G", "permutation:bytes=64K", true, "20us", 0, "dcqcn");
  rfab::topo::FatTree tree(rfab::topo::parse_fat_tree("fat-tree:k=4,speed=100G"));
  const auto emulated = schema(rfab::cli::emulator_metrics(tree, r.counters, false));
  const auto& ext = tm::record_extension_families();
  ASSERT_FALSE(emulated.empty());
  for (const auto& [name, keys] : emulated) {
    if (std::find(ext.begin(), ext.end(), name) != ext.end()) {
      EXPECT_EQ(collector.count(name), 0u) << name << " is listed as an extension but the collector writes it";
      continue;
    }
    auto it = collector.find(name);
    ASSERT_NE(it, collector.end()) << name << ": neither a collector field nor a documented extension";
    EXPECT_EQ(keys, it->second) << name << ": label keys differ from the collector's";
  }
  // The fields the gates read are all there.
  for (const char* need : {"rfab_iface_roce_packets_total", "rfab_iface_roce_bytes_total",
                           "rfab_iface_lost_packets_total", "rfab_iface_cnp_total", "rfab_roce_opcode_packets_total",
                           "rfab_roce_ecn_ce_total", "rfab_link_pfc_pauses_total"})
    EXPECT_EQ(emulated.count(need), 1u) << need;
}

uint64_t sum(const tm::Metrics& m, const std::string& family, const std::string& dir = "") {
  const tm::MetricFamily* f = m.find(family);
  if (!f) return 0;
  double t = 0;
  for (const auto& s : f->samples) {
    bool ok = dir.empty();
    for (const auto& [k, v] : s.labels)
      if (k == "dir" && v == dir) ok = true;
    if (ok) t += s.value;
  }
  return uint64_t(t);
}

TEST(EmuRecords, TotalsEqualTheEmulatorsSummary) {
  // Lossless with DCQCN (pauses, marks, CNPs) and lossy with a small buffer (drops).
  for (bool pfc : {true, false}) {
    const std::string topo = "fat-tree:k=4,speed=100G";
    const Report r = run(topo, "incast:n=8,bytes=256K", pfc, "60us", pfc ? 2'000'000 : 200'000, "dcqcn");
    rfab::topo::FatTree tree(rfab::topo::parse_fat_tree(topo));
    const tm::Metrics m = rfab::cli::emulator_metrics(tree, r.counters, false);
    EXPECT_EQ(sum(m, "rfab_link_drops_total"), r.drops);
    EXPECT_EQ(sum(m, "rfab_link_ecn_ce_total"), r.ecn_marks);
    EXPECT_EQ(sum(m, "rfab_link_pfc_pauses_total"), r.pfc_pauses);
    EXPECT_EQ(sum(m, "rfab_iface_roce_packets_total", "tx"), r.packets_sent);
    EXPECT_EQ(sum(m, "rfab_iface_roce_packets_total", "rx"), r.packets_delivered);
    EXPECT_EQ(sum(m, "rfab_iface_lost_packets_total"), r.drops);  // every drop here is a data packet
    EXPECT_LE(sum(m, "rfab_iface_cnp_total"), r.cnps);  // CNPs still in flight at the end are not counted
    if (pfc) {
      EXPECT_EQ(r.drops, 0u);
      EXPECT_GT(r.pfc_pauses, 0u);
    } else {
      EXPECT_GT(r.drops, 0u);
    }
    EXPECT_GT(r.ecn_marks, 0u);
    EXPECT_GT(sum(m, "rfab_roce_cnp_total"), 0u);
    EXPECT_EQ(sum(m, "rfab_roce_cnp_total"), sum(m, "rfab_iface_cnp_total"));

    // Through the file format and back: the reader's window holds the same totals.
    std::stringstream file;
    rfab::cli::write_emulator_records(file, tree, r.counters, r.simulated);
    const tm::Measurement got = tm::measure_records(file, "mem");
    EXPECT_DOUBLE_EQ(got.seconds, 60e-6);
    EXPECT_EQ(got.lost, r.drops);
    EXPECT_EQ(got.roce_packets, r.packets_sent + r.packets_delivered);
    EXPECT_EQ(got.bytes[RFAB_DIR_EGRESS], sum(m, "rfab_iface_roce_bytes_total", "tx"));
    EXPECT_EQ(got.cnps, sum(m, "rfab_iface_cnp_total"));
    ASSERT_TRUE(got.line_gbps);
    EXPECT_DOUBLE_EQ(*got.line_gbps, 16 * 100.0);  // 16 hosts at 100G
  }
}

// A live run's counters (what --prometheus serves): at time 0 and every sample, never going down, the last
// one the run's final counters; on both engines.
TEST(EmuRecords, LiveCountersGrowToTheFinalOnes) {
  for (const char* engine : {"packet", "flow"}) {
    ScenarioSpec s;
    s.engine = engine;
    s.topology = "fat-tree:k=4,speed=100G";
    s.traffic = "permutation:bytes=256K";
    s.duration = 100'000'000;  // 100 us
    s.counters = true;
    s.samples = 10;
    const rfab::topo::FatTree tree(rfab::topo::parse_fat_tree(s.topology));
    std::vector<std::pair<rfab::emu::Picos, uint64_t>> seen;
    s.on_counters = [&](rfab::emu::Picos t, const rfab::emu::FabricCounters& c) {
      seen.emplace_back(t, sum(rfab::cli::emulator_metrics(tree, c, false), "rfab_link_packets_total"));
    };
    const Report r = rfab::emu::run_scenario(s);
    ASSERT_EQ(seen.size(), 11u) << engine;
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].first, s.duration * i / 10) << engine;
      if (i) {
        EXPECT_GE(seen[i].second, seen[i - 1].second) << engine << " sample " << i;
      }
    }
    EXPECT_EQ(seen.front().second, 0u) << engine;
    EXPECT_GT(seen.back().second, 0u) << engine;
    EXPECT_EQ(seen.back().second, sum(rfab::cli::emulator_metrics(tree, r.counters, false), "rfab_link_packets_total"))
        << engine;
  }
}

// `rfab emulate --prometheus`: the URL it prints serves the collector's families while the run holds, with
// the totals of the --telemetry records; a bad address is refused before anything runs.
TEST(EmuRecords, PrometheusServesTheRunsCounters) {
  const std::string jsonl = tmp("live.jsonl"), err = tmp("live.err"), out = tmp("live.out");
  const std::string cmd = kRfab + " emulate --topo fat-tree:k=4,speed=100G --traffic incast:n=8,bytes=256K --pfc on"
                                  " --cc dcqcn --buffer 2M --time 60us --quiet --prometheus 127.0.0.1:0 --prometheus-hold 20s"
                                  " --telemetry " + jsonl + " >" + out + " 2>" + err + " & echo $!";
  int rc = -1;
  const std::string pid = rfab::test::run_command(cmd, &rc);
  ASSERT_EQ(rc, 0);
  // The URL is printed before the run; the run is over when its summary is on stdout.
  std::string url;
  for (int i = 0; i < 200; ++i) {
    std::ifstream e(err), o(out);
    std::stringstream es, os;
    es << e.rdbuf();
    os << o.rdbuf();
    const size_t at = es.str().find("http://");
    if (at != std::string::npos && os.str().find("emulator ") != std::string::npos) {
      url = es.str().substr(at, es.str().find('\n', at) - at);
      break;
    }
    usleep(50'000);
  }
  ASSERT_FALSE(url.empty()) << "no URL or no summary within 10 s";
  const std::string text = rfab::test::run_command(
      "/usr/bin/python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], "
      "timeout=10).read().decode())' " + url + " 2>&1", &rc);
  rfab::test::run_command("kill " + pid + " 2>/dev/null", nullptr);
  ASSERT_EQ(rc, 0) << text;
  // The served totals are the records' end values.
  std::ifstream f(jsonl);
  const tm::Measurement rec = tm::measure_records(f, jsonl);
  auto total = [&](const std::string& family) {
    uint64_t n = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(family, 0) == 0 && (line[family.size()] == '{' || line[family.size()] == ' '))
        n += std::stoull(line.substr(line.rfind(' ') + 1));
    return n;
  };
  EXPECT_GT(total("rfab_link_pfc_pauses_total"), 0u) << text.substr(0, 2000);
  EXPECT_EQ(total("rfab_iface_cnp_total"), rec.cnps);
  EXPECT_EQ(total("rfab_iface_roce_packets_total"), rec.roce_packets);
  for (const std::string& fname : {jsonl, err, out}) std::filesystem::remove(fname);
  const Outcome bad = rfab("emulate --topo fat-tree:k=4 --time 10us --quiet --prometheus 127.0.0.1:99999");
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_MENTIONS(bad, "--prometheus");
}

// Counters of a k=4 three-tier fabric filled by hand (no emulator run, so the bytes depend only on the
// records' writer): flows unseen, flows with and without CNPs, counters past 2^53 where a double rounds.
rfab::emu::FabricCounters synthetic_counters(const rfab::topo::FatTree& tree) {
  rfab::emu::FabricCounters c;
  c.ports.resize(tree.ports());
  for (size_t p = 0; p < c.ports.size(); ++p) {
    auto& pc = c.ports[p];
    pc.packets = 1000 + 7 * p;
    pc.bytes = pc.packets * 4158;
    pc.drops = p % 5 == 0 ? p : 0;
    pc.ecn_marks = p % 3;
    pc.pfc_pauses = p % 7 == 1 ? 11 : 0;
    if (p < tree.hosts()) {
      pc.rx_packets = 900 + p;
      pc.rx_bytes = pc.rx_packets * 4158 + (p == 3 ? (uint64_t{1} << 60) + 1 : 0);
    }
  }
  c.flows.resize(24);
  for (uint32_t id = 0; id < c.flows.size(); ++id) {
    auto& f = c.flows[id];
    if (id % 6 == 5) continue;  // never sent a packet
    f.seen = true;
    f.src = id % tree.hosts();
    f.dst = (id * 5 + 3) % tree.hosts();
    f.packets_sent = 100 + id;
    f.bytes_sent = f.packets_sent * 4096 + (id == 2 ? (uint64_t{1} << 54) + 3 : 0);
    f.packets_delivered = f.packets_sent - id % 3;
    f.bytes_delivered = f.packets_delivered * 4096;
    f.ce_delivered = id % 4;
    f.drops = id % 3;
    f.cnps_delivered = id % 4 == 1 ? id : 0;
  }
  return c;
}

const std::string kGoldenTopo = "fat-tree:k=4,tiers=2,speed=100G";

// The records' bytes: the file holds what the writer produced for these counters when the records were
// built as JSON documents; a change of schema, order or number format fails here.
TEST(EmuRecords, BytesAreTheRecordedOnes) {
  rfab::topo::FatTree tree(rfab::topo::parse_fat_tree(kGoldenTopo));
  std::ostringstream got;
  rfab::cli::write_emulator_records(got, tree, synthetic_counters(tree), 123'456'789'012);
  std::ifstream f(kData + "/telemetry/emu_records_k4.jsonl");
  ASSERT_TRUE(f);
  std::stringstream want;
  want << f.rdbuf();
  const std::string g = got.str(), w = want.str();
  ASSERT_EQ(g.size(), w.size());
  EXPECT_TRUE(g == w) << "first difference at byte " << std::mismatch(g.begin(), g.end(), w.begin()).first - g.begin();
}

// ---- rfab validate --from -----------------------------------------------------------------------------

// A two-tier k=4 fat-tree (8 hosts at 100G), lossless, long flows. Adaptive routing delivers about 98% of
// the hosts' line rate over 400 us; ECMP's hash collisions leave it well below 95%.
const std::string kPermutation = "emulate --topo fat-tree:k=4,tiers=2,speed=100G --traffic permutation:bytes=64M "
                                 "--time 400us --quiet";

TEST(ValidateFrom, LosslessEmulatedPermutationPasses) {
  const std::string f = tmp("lossless.jsonl");
  Outcome e = rfab(kPermutation + " --routing ar --telemetry " + f);
  ASSERT_EQ(e.rc, 0) << e.out;
  Outcome v = rfab("validate --from " + f + " --min-line-rate 0.95 --max-loss 0");
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_MENTIONS(v, "PASS");
  EXPECT_MENTIONS(v, "0 lost of");
  v = rfab("validate --from " + f + " --min-line-rate 0.95 --json");
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_MENTIONS(v, "\"from\"");
  EXPECT_MENTIONS(v, "\"gbps_of\":\"rx\"");
  EXPECT_MENTIONS(v, "\"line_gbps\":800.0");
  std::filesystem::remove(f);
}

TEST(ValidateFrom, EcmpBelowTheLineRateFails) {
  const std::string f = tmp("ecmp.jsonl");
  Outcome e = rfab(kPermutation + " --routing ecmp --telemetry " + f);
  ASSERT_EQ(e.rc, 0) << e.out;
  Outcome v = rfab("validate --from " + f + " --min-line-rate 0.95 --max-loss 0");
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_MENTIONS(v, "FAIL");
  EXPECT_MENTIONS(v, "of line rate 800.000 Gbit/s");
  std::filesystem::remove(f);
}

TEST(ValidateFrom, LossyEmulatedRunFailsOnLoss) {
  const std::string f = tmp("lossy.jsonl");
  Outcome e = rfab("emulate --topo fat-tree:k=4,speed=100G --pfc off --buffer 100K --traffic incast:n=8,bytes=1M "
                   "--time 50us --quiet --telemetry " + f);
  ASSERT_EQ(e.rc, 0) << e.out;
  Outcome v = rfab("validate --from " + f + " --min-gbps 0 --max-loss 0");
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_MENTIONS(v, "FAIL");
  EXPECT_MENTIONS(v, "loss");
  std::filesystem::remove(f);
}

TEST(ValidateFrom, RecordedCollectorFile) {
  // Recorded by `rfab collect --hook tc --interval 1s --json-file` on the receiving namespace of a veth pair
  // while `rfab perf write` (one QP, 64 KiB messages) ran: 4 s between its first and last records,
  // 12.804 Gbit/s received, 1,540,757 request packets, none lost.
  const std::string f = kData + "/telemetry/collect_tc_write.jsonl";
  Outcome v = rfab("validate --from " + f + " --min-gbps 12 --max-loss 0");
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_MENTIONS(v, "12.804 Gbit/s");
  EXPECT_MENTIONS(v, "0 lost of 1540757 requests");
  v = rfab("validate --from " + f + " --min-gbps 13 --max-loss 0");
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_MENTIONS(v, "throughput 12.804 Gbit/s < required 13");
  // A collector file has no link speed: --min-line-rate needs one given.
  v = rfab("validate --from " + f + " --min-line-rate 0.5");
  EXPECT_EQ(v.rc, 2) << v.out;
  EXPECT_MENTIONS(v, "--line-gbps");
  v = rfab("validate --from " + f + " --min-line-rate 0.5 --line-gbps 20");
  EXPECT_EQ(v.rc, 0) << v.out;
  v = rfab("validate --from " + f + " --min-line-rate 0.7 --line-gbps 20");
  EXPECT_EQ(v.rc, 1) << v.out;
  EXPECT_MENTIONS(v, "of line rate");
}

// A file far larger than the reader may hold: two records of 500,000 flow samples each (about 115 MB). The
// gates see its sums, and `rfab validate --from` stays within a few MB of its own (a reader that held a
// line, or a JSON document of it, would need the file's size or ten times it).
TEST(ValidateFrom, LargeFileStreamsThrough) {
  const std::string f = tmp("large.jsonl");
  constexpr uint64_t kFlows = 500'000;
  {
    std::ofstream out(f);
    tm::JsonLineWriter w(out);
    for (uint64_t end : {0, 1}) {
      w.begin_record(end ? 2000 : 1000);
      const tm::LabelView rx[] = {{"iface", "eth0"}, {"dir", "rx"}};
      const tm::LabelView tx[] = {{"iface", "eth0"}, {"dir", "tx"}};
      w.family("rfab_iface_roce_packets_total");
      w.sample(rx, double(end * 3 * kFlows));
      w.sample(tx, 0);
      w.family("rfab_iface_roce_bytes_total");
      w.sample(rx, double(end * 3 * kFlows * 4096));
      w.sample(tx, 0);
      w.family("rfab_iface_lost_packets_total");
      w.sample(rx, double(end * 7));
      w.family("rfab_roce_opcode_packets_total");
      for (uint64_t qp = 0; qp < kFlows; ++qp) {
        const std::string q = std::to_string(qp);
        const tm::LabelView l[] = {{"iface", "eth0"}, {"src", "10.0.0.1"}, {"dst", "10.0.0.2"},
                                   {"qp", q},        {"dir", "rx"},       {"class", "write"}};
        w.sample(l, double(end * 3));
      }
      w.end_record();
    }
    w.flush();
  }
  ASSERT_GT(std::filesystem::file_size(f), 100'000'000u);
  Outcome v = rfab("validate --from " + f + " --min-gbps 9 --max-loss 0.01");
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_MENTIONS(v, "(7 lost of 1500007 requests)");  // expected: received + lost
  EXPECT_MENTIONS(v, "49.152 Gbit/s");  // 1.5M packets of 4096 bytes in 1 s
  // Its peak resident memory (GNU time's %M, KiB). AddressSanitizer's shadow memory and quarantine add
  // their own hundreds of MiB, so the bound is checked in uninstrumented builds only.
#if defined(__SANITIZE_ADDRESS__)
  std::filesystem::remove(f);
  return;
#endif
  const std::string rss = rfab::test::run_command("/usr/bin/time -f 'maxrss %M' " + kRfab + " validate --from " + f +
                                                  " --min-gbps 0 --max-loss 1 2>&1 >/dev/null", nullptr);
  const size_t at = rss.find("maxrss ");
  ASSERT_NE(at, std::string::npos) << rss;
  EXPECT_LT(std::stoull(rss.substr(at + 7)), 48u << 10) << "KiB for a file of 115 MB";
  std::filesystem::remove(f);
}

TEST(ValidateFrom, BadFilesNameTheFileAndLine) {
  struct Case {
    std::string text, expect;
  };
  const std::string rec = R"({"ts_ms":1000,"metrics":{"rfab_iface_roce_packets_total":[],"rfab_iface_roce_bytes_total":[],"rfab_iface_lost_packets_total":[]}})";
  const Case cases[] = {
      {"", ":" " no metrics records"},
      {"not json\n", ":1: not JSON"},
      {rec + "\n{\"ts_ms\":\n", ":2: not JSON"},
      {"[1,2]\n", ":1: not a JSON object"},
      {"{\"metrics\":{}}\n", ":1: missing field \"ts_ms\""},
      {"{\"ts_ms\":-4,\"metrics\":{}}\n", ":1: \"ts_ms\" is not a non-negative integer"},
      {"{\"ts_ms\":1}\n", ":1: neither a metrics record"},
      {rec + "\n", ":1: only one metrics record"},
      {rec + "\n" + rec + "\n", ":2: the last metrics record is not later"},
      {rec + "\n{\"ts_ms\":2000,\"metrics\":{}}\n", ":2: missing metric rfab_iface_roce_packets_total"},
      {rec + "\n{\"ts_ms\":2000,\"metrics\":{\"x\":[{\"labels\":{},\"value\":\"7\"}]}}\n", ":2: a sample of x has no numeric"},
      {rec + "\n{\"ts_ms\":2000,\"metrics\":{\"x\":[{\"labels\":{\"a\":1},\"value\":7}]}}\n", ":2: label a of x"},
      {"{\"event\":3}\n", ":1: \"event\" is not a string"},
  };
  for (const auto& c : cases) {
    const std::string f = tmp("bad.jsonl");
    std::ofstream(f) << c.text;
    Outcome v = rfab("validate --from " + f + " --min-gbps 0");
    EXPECT_EQ(v.rc, 2) << c.text << "\n" << v.out;
    EXPECT_MENTIONS(v, f + c.expect);
    std::filesystem::remove(f);
  }
  Outcome v = rfab("validate --from /nonexistent/records.jsonl --min-gbps 0");
  EXPECT_EQ(v.rc, 2) << v.out;
  EXPECT_MENTIONS(v, "/nonexistent/records.jsonl: cannot open");
  v = rfab("validate --min-gbps 0");
  EXPECT_EQ(v.rc, 2) << v.out;
  EXPECT_MENTIONS(v, "--from");
  // Options of a live measurement are refused with --from, not ignored.
  v = rfab("validate --from " + kData + "/telemetry/collect_tc_write.jsonl --min-gbps 0 --duration 5s");
  EXPECT_EQ(v.rc, 2) << v.out;
  EXPECT_MENTIONS(v, "--duration");
}

}  // namespace
