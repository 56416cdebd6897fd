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
  char line[400];
  for (uint8_t d = 0; d < RFAB_DIR_COUNT; ++d) {
    const auto& t = now.totals[d];
    uint64_t open = 0;
    for (const auto& f : now.flows)
      if (f.key.dir == d) open += f.outstanding;
    std::snprintf(line, sizeof line,
                  "%s %s: frames %llu  roce %llu  not-roce %llu  malformed %llu  ce %llu  cnp %llu  nak %llu  "
                  "lost %llu  reordered %llu  outstanding %llu  dup %llu  too-old %llu  map-full %llu  "
                  "ev-dropped %llu\n",
                  iface.c_str(), dir_name(d), (unsigned long long)t.frames, (unsigned long long)t.roce_packets,
                  (unsigned long long)t.not_roce, (unsigned long long)t.malformed, (unsigned long long)t.ecn_ce,
                  (unsigned long long)t.cnps, (unsigned long long)t.naks, (unsigned long long)t.lost,
                  (unsigned long long)t.reordered, (unsigned long long)open, (unsigned long long)t.duplicates,
                  (unsigned long long)t.too_old, (unsigned long long)t.flow_map_full,
                  (unsigned long long)t.events_dropped);
    out += line;
  }
  std::snprintf(line, sizeof line, "flows %zu / %u\n", now.flows.size(), now.flow_map_entries);
  out += line;
  // sports: source ports (entropies) seen; spread: the least and the most packets of one port, as a
  // share of the flow's packets (an even spray over N ports reads 100/N% .. 100/N%).
  std::snprintf(line, sizeof line, "%-3s %-24s %-24s %8s %12s %10s %9s %7s %6s %6s %8s %9s %5s %5s %6s %13s\n",
                "dir", "src", "dst", "qp", "packets", "pkt/s", "Gbit/s", "ce", "cnp", "nak", "lost", "reordered",
                "maxd", "dup", "sports", "spread");
  out += line;
  for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
    const auto& f = *rows[i].f;
    const auto& k = f.key;
    const auto& s = f.stats;
    std::string spread = "-";
    if (!f.entropies.empty() && s.packets) {
      uint64_t lo = f.entropies[0].packets, hi = lo;
      for (const auto& e : f.entropies) lo = std::min(lo, e.packets), hi = std::max(hi, e.packets);
      char b[32];
      std::snprintf(b, sizeof b, "%.0f..%.0f%%", 100.0 * static_cast<double>(lo) / static_cast<double>(s.packets),
                    100.0 * static_cast<double>(hi) / static_cast<double>(s.packets));
      spread = b;
    }
    std::snprintf(line, sizeof line,
                  "%-3s %-24s %-24s %8u %12llu %10.0f %9.3f %7llu %6llu %6llu %8llu %9llu %5llu %5llu %6zu %13s\n",
                  dir_name(k.dir), format_addr(k.src, k.family).c_str(), format_addr(k.dst, k.family).c_str(), k.qp,
                  (unsigned long long)s.packets, rows[i].pps, rows[i].gbps, (unsigned long long)s.ecn_ce,
                  (unsigned long long)s.cnps, (unsigned long long)naks(s), (unsigned long long)s.lost,
                  (unsigned long long)s.reordered, (unsigned long long)s.reorder_distance_max,
                  (unsigned long long)s.duplicates, f.entropies.size() + (s.entropy_other ? 1 : 0), spread.c_str());
    out += line;
  }
  if (rows.size() > max_rows) out += "... " + std::to_string(rows.size() - max_rows) + " more flows\n";
  return out;
}

}  // namespace rfab::telemetry
