// The streaming records reader and writer against the document-based ones they replaced: the reader gives
// the same measurement or the same message (file and line) as the document reader on random corruptions of
// record files; the writer gives the bytes nlohmann's dump() gives for the same metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "records_document_reader.hpp"
#include "rfab/telemetry/json_lines.hpp"
#include "rfab/telemetry/records.hpp"

namespace rfab::telemetry {
namespace {

// Every field of a measurement, or the error, as text.
std::string outcome(bool streaming, const std::string& text) {
  std::istringstream in(text);
  try {
    const Measurement m = streaming ? measure_records(in, "f.jsonl") : reference::measure_records_document(in, "f.jsonl");
    std::ostringstream o;
    o.precision(17);
    o << "seconds " << m.seconds << " packets " << m.roce_packets << " bytes " << m.bytes[0] << "/" << m.bytes[1]
      << " requests " << m.request_packets << " lost " << m.lost << " late " << m.late << " reordered " << m.reordered
      << " duplicates " << m.duplicates << " too_old " << m.too_old << " naks " << m.naks << " cnps " << m.cnps
      << " map_full " << m.flow_map_full << " gso " << m.unsplit_gso << " outstanding " << m.outstanding
      << " distance " << m.reorder_distance_max << " delay " << m.reorder_delay_max_ns << " rx_only "
      << m.received_only << " line " << (m.line_gbps ? *m.line_gbps : -1);
    return o.str();
  } catch (const RecordsError& e) {
    return std::string("error ") + e.what();
  }
}

// Two records and an event: every field and family the gates read, labels in several orders.
const std::string kFile =
    R"({"ts_ms":1000,"ts_ns":5,"scope":"fabric","metrics":{"rfab_iface_roce_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":10},{"labels":{"dir":"tx","iface":"eth0"},"value":4}],"rfab_iface_roce_bytes_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":100}],"rfab_iface_lost_packets_total":[{"labels":{"dir":"rx"},"value":0}],"rfab_roce_opcode_packets_total":[{"labels":{"iface":"eth0","qp":"5","dir":"rx","class":"write"},"value":10}],"rfab_iface_speed_bps":[{"labels":{"iface":"eth0"},"value":1e9}]}})"
    "\n"
    R"({"event":"psn_lost","qp":5})"
    "\n"
    R"({"ts_ms":3000,"ts_ns":2000000005,"scope":"fabric","metrics":{"rfab_iface_roce_packets_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":40},{"labels":{"iface":"eth0","dir":"tx"},"value":9}],"rfab_iface_roce_bytes_total":[{"labels":{"iface":"eth0","dir":"rx"},"value":1000100},{"labels":{"iface":"eth0","dir":"tx"},"value":2050}],"rfab_iface_lost_packets_total":[{"labels":{"dir":"rx"},"value":2}],"rfab_iface_nak_total":[{"labels":{},"value":3}],"rfab_iface_psn_outstanding":[{"labels":{},"value":1}],"rfab_roce_opcode_packets_total":[{"labels":{"class":"write","iface":"eth0","qp":"5","dir":"rx"},"value":40},{"labels":{"qp":"9","dir":"rx","class":"send"},"value":3.5}],"rfab_roce_reorder_distance_max":[{"labels":{},"value":7}],"rfab_roce_reorder_delay_max_seconds":[{"labels":{},"value":2.5e-5}],"rfab_iface_speed_bps":[{"labels":{"iface":"eth0"},"value":1e9}]}})"
    "\n";

TEST(RecordsStream, SameMeasurementOrMessageAsTheDocumentReader) {
  ASSERT_EQ(outcome(true, kFile), outcome(false, kFile));
  ASSERT_EQ(outcome(true, kFile).rfind("seconds 2 ", 0), 0u) << outcome(true, kFile);
  // Corruptions: bytes deleted, JSON tokens inserted or written over a byte, a piece of the file copied
  // elsewhere (repeated keys, families, records), one to three at a time.
  const char* tokens[] = {"{", "}", "[", "]", ",", ":", "\"", "\n", " ", "\r", "1", "-1", "1.5", "1e400", "null", "true",
                          "{}", "[]", "\"x\"", "\"rx\"", "\"tx\"", "\"dir\"", "\"class\"", "\"write\"", "\"labels\"",
                          "\"value\"", "\"metrics\"", "\"ts_ms\"", "\"ts_ns\"", "\"scope\"", "\"fabric\"", "\"event\"",
                          "\"rfab_iface_roce_bytes_total\""};
  std::mt19937_64 rng(1);
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string t = kFile;
    for (int k = 1 + int(rng() % 3); k > 0; --k) {
      const size_t at = rng() % (t.size() + 1);
      const std::string token = tokens[rng() % std::size(tokens)];
      switch (rng() % 4) {
        case 0: t.erase(std::min(at, t.size()), 1 + rng() % 8); break;
        case 1: t.insert(at, token); break;
        case 2: if (at < t.size()) t[at] = token[0]; break;
        default: t.insert(at, t.substr(rng() % t.size(), rng() % 40)); break;
      }
    }
    const std::string want = outcome(false, t);
    ASSERT_EQ(outcome(true, t), want) << "input:\n" << t;
    errors += want.rfind("error ", 0) == 0;
  }
  EXPECT_GT(errors, 10000) << "the corruptions should mostly make bad files";
  EXPECT_LT(errors, 20000) << "and some still readable ones";
}

TEST(RecordsStream, WriterBytesAreNlohmannsDump) {
  Metrics m;
  m.add("a_total", "", MetricType::counter, {{"iface", "eth0"}, {"dir", "rx"}}, 12345678901234.0);
  m.add("a_total", "", MetricType::counter, {{"iface", "we\"ird\\name\n\x01"}, {"dir", "tx"}}, 0);
  m.add("a_total", "", MetricType::counter, {{"k", "1"}, {"j", "2"}, {"k", "3"}}, 18446744073709551615.0);
  m.add("b", "", MetricType::gauge, {{"node", "caf\xc3\xa9"}}, 2.5);
  m.add("b", "", MetricType::gauge, {}, -1);
  m.add("b", "", MetricType::gauge, {}, 0.1);
  m.add("b", "", MetricType::gauge, {}, 1e300);
  m.add("b", "", MetricType::gauge, {}, -0.0);
  m.family("empty", "", MetricType::counter);
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  for (const auto& f : m.families()) {
    auto samples = nlohmann::ordered_json::array();
    for (const auto& s : f.samples) {
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& [k, v] : s.labels) labels[k] = v;
      nlohmann::ordered_json o;
      o["labels"] = std::move(labels);
      if (s.value >= 0 && s.value < 18446744073709551616.0 && s.value == double(uint64_t(s.value)))
        o["value"] = uint64_t(s.value);
      else
        o["value"] = s.value;
      samples.push_back(std::move(o));
    }
    metrics[f.name] = std::move(samples);
  }
  nlohmann::ordered_json line;
  line["ts_ms"] = 1700000000123u;
  line["metrics"] = std::move(metrics);
  EXPECT_EQ(render_json_line(m, 1700000000123), line.dump());
  Metrics none;
  EXPECT_EQ(render_json_line(none, 7), R"({"ts_ms":7,"metrics":{}})");
}

}  // namespace
}  // namespace rfab::telemetry
