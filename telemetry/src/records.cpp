#include "rfab/telemetry/records.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "record_scan.hpp"
#include "rfab/telemetry/addr.hpp"

namespace rfab::telemetry {
namespace {

[[noreturn]] void fail(const std::string& name, size_t line, const std::string& what) {
  throw RecordsError(name + ":" + std::to_string(line) + ": " + what);
}

// A non-negative count from a JSON number (counters may go backwards if a collector restarted: 0 then).
uint64_t counter(double v) {
  if (!(v > 0)) return 0;
  if (v >= 18446744073709549568.0) return UINT64_MAX;
  return static_cast<uint64_t>(std::llround(v));
}

}  // namespace

Measurement measure_records(std::istream& in, const std::string& name) {
  // Only the first and the latest record are kept: the file streams through (record_scan.hpp).
  RecordScanner scan(in, name);
  std::optional<RecordSums> first, last;
  RecordSums r;
  while (scan.next(r)) {
    if (!first) first = r;
    else last = r;
  }
  if (!first) throw RecordsError(name + ": no metrics records (an empty file, or events only)");
  if (!last)
    throw RecordsError(name + ":" + std::to_string(first->line) +
                       ": only one metrics record; a window needs two (its start and its end)");

  const RecordSums& a = *first;
  const RecordSums& b = *last;
  const double seconds = a.ts_ns && b.ts_ns ? (double(*b.ts_ns) - double(*a.ts_ns)) / 1e9
                                            : (double(b.ts_ms) - double(a.ts_ms)) / 1e3;
  if (!(seconds > 0))
    fail(name, b.line, "the last metrics record is not later than the first (line " + std::to_string(a.line) + ")");
  for (const char* required : {"rfab_iface_roce_packets_total", "rfab_iface_roce_bytes_total",
                               "rfab_iface_lost_packets_total"}) {
    if (!b[required].present) fail(name, b.line, std::string("missing metric ") + required);
  }

  // A counter over the window: last minus first (a series absent from the first record started at 0).
  auto delta = [](double end, double start) { return counter(end - start); };
  auto total = [&](const char* family) { return delta(b[family].total, a[family].total); };
  Measurement m;
  m.seconds = seconds;
  m.received_only = b.fabric;
  m.roce_packets = total("rfab_iface_roce_packets_total");
  for (int d : {RFAB_DIR_INGRESS, RFAB_DIR_EGRESS})
    m.bytes[d] = delta(b["rfab_iface_roce_bytes_total"].dir[d], a["rfab_iface_roce_bytes_total"].dir[d]);
  for (size_t cls = 0; cls < kRequestClasses.size(); ++cls)
    m.request_packets += delta(b["rfab_roce_opcode_packets_total"].rx_class[cls],
                               a["rfab_roce_opcode_packets_total"].rx_class[cls]);
  m.lost = total("rfab_iface_lost_packets_total");
  m.late = total("rfab_iface_psn_late_total");
  m.reordered = total("rfab_iface_reordered_packets_total");
  m.duplicates = total("rfab_iface_psn_duplicates_total");
  m.too_old = total("rfab_iface_psn_too_old_total");
  m.naks = total("rfab_iface_nak_total");
  m.cnps = total("rfab_iface_cnp_total");
  m.flow_map_full = total("rfab_iface_flow_map_full_total");
  m.unsplit_gso = total("rfab_iface_unsplit_gso_total");
  m.outstanding = counter(b["rfab_iface_psn_outstanding"].total);
  m.reorder_distance_max = counter(b["rfab_roce_reorder_distance_max"].max);
  m.reorder_delay_max_ns = counter(b["rfab_roce_reorder_delay_max_seconds"].max * 1e9);
  if (const double speed = b["rfab_iface_speed_bps"].total; speed > 0) m.line_gbps = speed / 1e9;
  return m;
}

Measurement measure_records_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw RecordsError(path + ": cannot open: " + std::strerror(errno));
  return measure_records(f, path);
}

}  // namespace rfab::telemetry
