#include "rfab/telemetry/table.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "rfab/telemetry/addr.hpp"

namespace rfab::telemetry {
namespace {

const FlowRecord* find(const CollectorSnapshot* s, const rfab_flow_key& k) {
  if (!s) return nullptr;
  for (const auto& f : s->flows)
    if (std::memcmp(&f.key, &k, sizeof k) == 0) return &f;
  return nullptr;
}

uint64_t naks(const rfab_flow_stats& s) {
  uint64_t n = 0;
  for (auto v : s.naks) n += v;
  return n;
}

}  // namespace

std::string render_table(const std::string& iface, const CollectorSnapshot& now, const CollectorSnapshot* prev,
                         size_t max_rows) {
  double secs = prev ? std::chrono::duration<double>(now.taken - prev->taken).count() : 0;
  struct Row {
    const FlowRecord* f;
    double pps, gbps;
  };
  std::vector<Row> rows;
  for (const auto& f : now.flows) {
    const FlowRecord* p = find(prev, f.key);
    uint64_t dp = f.stats.packets - (p ? p->stats.packets : 0);
    uint64_t db = f.stats.bytes - (p ? p->stats.bytes : 0);
    // Without an earlier snapshot there is no interval to divide by: rates show as 0.
    rows.push_back({&f, secs > 0 ? static_cast<double>(dp) / secs : 0,
                    secs > 0 ? static_cast<double>(db) * 8 / secs / 1e9 : 0});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.pps > b.pps; });

  std::string out;
  char line[320];
  for (uint8_t d = 0; d < RFAB_DIR_COUNT; ++d) {
    const auto& t = now.totals[d];
    std::snprintf(line, sizeof line,
                  "%s %s: frames %llu  roce %llu  not-roce %llu  malformed %llu  ce %llu  cnp %llu  nak %llu  "
                  "gaps %llu (lost~%llu)  backwards %llu  map-full %llu  ev-dropped %llu\n",
                  iface.c_str(), dir_name(d), (unsigned long long)t.frames, (unsigned long long)t.roce_packets,
                  (unsigned long long)t.not_roce, (unsigned long long)t.malformed, (unsigned long long)t.ecn_ce,
                  (unsigned long long)t.cnps, (unsigned long long)t.naks, (unsigned long long)t.psn_gaps,
                  (unsigned long long)t.lost_estimate, (unsigned long long)t.psn_backwards,
                  (unsigned long long)t.flow_map_full, (unsigned long long)t.events_dropped);
    out += line;
  }
  std::snprintf(line, sizeof line, "flows %zu / %u\n", now.flows.size(), now.flow_map_entries);
  out += line;
  std::snprintf(line, sizeof line, "%-3s %-24s %-24s %8s %12s %10s %9s %7s %6s %6s %8s %9s\n", "dir", "src", "dst",
                "qp", "packets", "pkt/s", "Gbit/s", "ce", "cnp", "nak", "lost~", "backwards");
  out += line;
  for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
    const auto& k = rows[i].f->key;
    const auto& s = rows[i].f->stats;
    std::snprintf(line, sizeof line, "%-3s %-24s %-24s %8u %12llu %10.0f %9.3f %7llu %6llu %6llu %8llu %9llu\n",
                  dir_name(k.dir), format_addr(k.src, k.family).c_str(), format_addr(k.dst, k.family).c_str(), k.qp,
                  (unsigned long long)s.packets, rows[i].pps, rows[i].gbps, (unsigned long long)s.ecn_ce,
                  (unsigned long long)s.cnps, (unsigned long long)naks(s), (unsigned long long)s.lost_estimate,
                  (unsigned long long)s.psn_backwards);
    out += line;
  }
  if (rows.size() > max_rows) out += "... " + std::to_string(rows.size() - max_rows) + " more flows\n";
  return out;
}

}  // namespace rfab::telemetry
