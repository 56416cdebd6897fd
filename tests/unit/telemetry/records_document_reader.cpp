// The records reader as it was before it streamed: each line parsed into a JSON document, then checked and
// summed. Kept only as the reference the streaming reader is compared with (test_records_stream.cpp): the
// same measurement or the same message on any input.
#include "records_document_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "rfab/telemetry/addr.hpp"

namespace rfab::telemetry::reference {
namespace {

using nlohmann::json;
using Want = std::vector<std::pair<std::string, std::string>>;  // labels a sample must carry

// One metrics record: per family, per label set (serialised), the value.
struct Record {
  size_t line = 0;
  uint64_t ts_ms = 0;
  std::optional<uint64_t> ts_ns;
  bool fabric = false;  // "scope":"fabric": every NIC of a fabric
  json metrics;
};

[[noreturn]] void fail(const std::string& name, size_t line, const std::string& what) {
  throw RecordsError(name + ":" + std::to_string(line) + ": " + what);
}

uint64_t unsigned_field(const json& j, const char* key, const std::string& name, size_t line) {
  const auto it = j.find(key);
  if (it == j.end()) fail(name, line, std::string("missing field \"") + key + "\"");
  if (!it->is_number_unsigned()) fail(name, line, std::string("\"") + key + "\" is not a non-negative integer");
  return it->get<uint64_t>();
}

// Checks the shape json_lines.hpp writes: "metrics" is {name: [{"labels": {k: "v"}, "value": number}]}.
void check_metrics(const json& metrics, const std::string& name, size_t line) {
  if (!metrics.is_object()) fail(name, line, "\"metrics\" is not an object");
  for (const auto& [family, samples] : metrics.items()) {
    if (!samples.is_array()) fail(name, line, "metric " + family + " is not an array of samples");
    for (const auto& s : samples) {
      if (!s.is_object()) fail(name, line, "a sample of " + family + " is not an object");
      const auto labels = s.find("labels");
      if (labels == s.end() || !labels->is_object()) fail(name, line, "a sample of " + family + " has no \"labels\" object");
      for (const auto& [k, v] : labels->items())
        if (!v.is_string()) fail(name, line, "label " + k + " of " + family + " is not a string");
      const auto value = s.find("value");
      if (value == s.end() || !value->is_number()) fail(name, line, "a sample of " + family + " has no numeric \"value\"");
      if (!std::isfinite(value->get<double>())) fail(name, line, "a sample of " + family + " is not finite");
    }
  }
}

// Sum of `family` over the samples whose labels match `want` (label -> value), or nullopt if absent.
std::optional<double> sum(const Record& r, const std::string& family,
                          const Want& want = {}) {
  const auto it = r.metrics.find(family);
  if (it == r.metrics.end()) return std::nullopt;
  double total = 0;
  for (const auto& s : *it) {
    const json& labels = s["labels"];
    bool match = std::all_of(want.begin(), want.end(), [&](const auto& kv) {
      const auto l = labels.find(kv.first);
      return l != labels.end() && *l == kv.second;
    });
    if (match) total += s["value"].get<double>();
  }
  return total;
}

double max_of(const Record& r, const std::string& family) {
  double m = 0;
  const auto it = r.metrics.find(family);
  if (it == r.metrics.end()) return 0;
  for (const auto& s : *it) m = std::max(m, s["value"].get<double>());
  return m;
}

// A non-negative count from a JSON number (counters may go backwards if a collector restarted: 0 then).
uint64_t counter(double v) {
  if (!(v > 0)) return 0;
  if (v >= 18446744073709549568.0) return UINT64_MAX;
  return static_cast<uint64_t>(std::llround(v));
}

}  // namespace

Measurement measure_records_document(std::istream& in, const std::string& name) {
  std::optional<Record> first, last;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) fail(name, line, "not JSON");
    if (!j.is_object()) fail(name, line, "not a JSON object");
    if (j.contains("event")) {  // the collector's events: notable moments, not counters
      if (!j["event"].is_string()) fail(name, line, "\"event\" is not a string");
      continue;
    }
    if (!j.contains("metrics")) fail(name, line, "neither a metrics record (\"metrics\") nor an event (\"event\")");
    Record r;
    r.line = line;
    r.ts_ms = unsigned_field(j, "ts_ms", name, line);
    if (j.contains("ts_ns")) r.ts_ns = unsigned_field(j, "ts_ns", name, line);
    if (j.contains("scope")) {
      if (j["scope"] != "fabric") fail(name, line, "\"scope\" is not \"fabric\"");
      r.fabric = true;
    }
    check_metrics(j["metrics"], name, line);
    r.metrics = std::move(j["metrics"]);
    if (!first)
      first = std::move(r);
    else
      last = std::move(r);
  }
  if (in.bad()) throw RecordsError(name + ": read error: " + std::strerror(errno));
  if (!first) throw RecordsError(name + ": no metrics records (an empty file, or events only)");
  if (!last)
    throw RecordsError(name + ":" + std::to_string(first->line) +
                       ": only one metrics record; a window needs two (its start and its end)");

  const Record& a = *first;
  const Record& b = *last;
  const double seconds = a.ts_ns && b.ts_ns ? (double(*b.ts_ns) - double(*a.ts_ns)) / 1e9
                                            : (double(b.ts_ms) - double(a.ts_ms)) / 1e3;
  if (!(seconds > 0))
    fail(name, b.line, "the last metrics record is not later than the first (line " + std::to_string(a.line) + ")");
  for (const char* required : {"rfab_iface_roce_packets_total", "rfab_iface_roce_bytes_total",
                               "rfab_iface_lost_packets_total"}) {
    if (!b.metrics.contains(required)) fail(name, b.line, std::string("missing metric ") + required);
  }

  // A counter over the window: last minus first (a series absent from the first record started at 0).
  auto delta = [&](const std::string& family, const Want& want = {}) {
    const double end = sum(b, family, want).value_or(0);
    const double start = sum(a, family, want).value_or(0);
    return counter(end - start);
  };
  Measurement m;
  m.seconds = seconds;
  m.received_only = b.fabric;
  m.roce_packets = delta("rfab_iface_roce_packets_total");
  m.bytes[RFAB_DIR_INGRESS] = delta("rfab_iface_roce_bytes_total", Want{{"dir", dir_name(RFAB_DIR_INGRESS)}});
  m.bytes[RFAB_DIR_EGRESS] = delta("rfab_iface_roce_bytes_total", Want{{"dir", dir_name(RFAB_DIR_EGRESS)}});
  for (const char* cls : {"send", "write", "read_request", "atomic"})
    m.request_packets += delta("rfab_roce_opcode_packets_total", Want{{"class", cls}, {"dir", dir_name(RFAB_DIR_INGRESS)}});
  m.lost = delta("rfab_iface_lost_packets_total");
  m.late = delta("rfab_iface_psn_late_total");
  m.reordered = delta("rfab_iface_reordered_packets_total");
  m.duplicates = delta("rfab_iface_psn_duplicates_total");
  m.too_old = delta("rfab_iface_psn_too_old_total");
  m.naks = delta("rfab_iface_nak_total");
  m.cnps = delta("rfab_iface_cnp_total");
  m.flow_map_full = delta("rfab_iface_flow_map_full_total");
  m.unsplit_gso = delta("rfab_iface_unsplit_gso_total");
  m.outstanding = counter(sum(b, "rfab_iface_psn_outstanding").value_or(0));
  m.reorder_distance_max = counter(max_of(b, "rfab_roce_reorder_distance_max"));
  m.reorder_delay_max_ns = counter(max_of(b, "rfab_roce_reorder_delay_max_seconds") * 1e9);
  if (auto speed = sum(b, "rfab_iface_speed_bps"); speed && *speed > 0) m.line_gbps = *speed / 1e9;
  return m;
}

}  // namespace rfab::telemetry::reference
