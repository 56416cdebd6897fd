#include "rfab/telemetry/validate.hpp"

#include <algorithm>
#include <cstdio>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace rfab::telemetry {

double Measurement::gbps() const {
  if (seconds <= 0) return 0;
  const uint64_t b = received_only ? bytes[RFAB_DIR_INGRESS] : std::max(bytes[0], bytes[1]);
  return static_cast<double>(b) * 8 / seconds / 1e9;
}

double Measurement::loss() const {
  uint64_t expected = request_packets + lost;
  return expected ? static_cast<double>(lost) / static_cast<double>(expected) : 0;
}

namespace {

const FlowRecord* find_flow(const CollectorSnapshot& s, const rfab_flow_key& k) {
  auto it = std::lower_bound(s.flows.begin(), s.flows.end(), k, [](const FlowRecord& f, const rfab_flow_key& key) {
    return std::memcmp(&f.key, &key, sizeof key) < 0;
  });
  return it != s.flows.end() && std::memcmp(&it->key, &k, sizeof k) == 0 ? &*it : nullptr;
}

// Holes open in `settled` that were already open in `after`, and those that were not.
std::pair<uint64_t, uint64_t> aged_and_young_holes(const CollectorSnapshot& after, const CollectorSnapshot& settled) {
  uint64_t aged = 0, young = 0;
  for (const auto& f : settled.flows) {
    auto now = open_hole_psns(f.window);
    if (now.empty()) continue;
    const FlowRecord* then = find_flow(after, f.key);
    auto old = then ? open_hole_psns(then->window) : std::vector<uint32_t>{};
    for (uint32_t psn : now) {
      if (std::find(old.begin(), old.end(), psn) != old.end()) ++aged;
      else ++young;
    }
  }
  return {aged, young};
}

}  // namespace

Measurement measure(const CollectorSnapshot& before, const CollectorSnapshot& after,
                    const CollectorSnapshot* settled) {
  Measurement m;
  m.seconds = std::chrono::duration<double>(after.taken - before.taken).count();
  for (int d = 0; d < RFAB_DIR_COUNT; ++d) {
    const auto& a = after.totals[d];
    const auto& b = before.totals[d];
    m.roce_packets += a.roce_packets - b.roce_packets;
    m.bytes[d] = a.roce_bytes - b.roce_bytes;
    m.naks += a.naks - b.naks;
    m.cnps += a.cnps - b.cnps;
    m.flow_map_full += a.flow_map_full - b.flow_map_full;
    m.unsplit_gso += a.unsplit_gso - b.unsplit_gso;
  }
  // Request packets come from the flows (the totals do not split by class); flows absent before count whole.
  auto requests = [](const rfab_flow_stats& s) {
    return s.op_class[RFAB_OPC_SEND] + s.op_class[RFAB_OPC_WRITE] + s.op_class[RFAB_OPC_READ_REQUEST] +
           s.op_class[RFAB_OPC_ATOMIC];
  };
  uint64_t req_after = 0, req_before = 0;
  for (const auto& f : after.flows) req_after += requests(f.stats);
  for (const auto& f : before.flows) req_before += requests(f.stats);
  m.request_packets = req_after >= req_before ? req_after - req_before : 0;

  const CollectorSnapshot& end = settled ? *settled : after;
  for (int d = 0; d < RFAB_DIR_COUNT; ++d) {
    const auto& a = end.totals[d];
    const auto& b = before.totals[d];
    m.lost += a.lost - b.lost;
    m.reordered += a.reordered - b.reordered;
    m.duplicates += a.duplicates - b.duplicates;
    m.too_old += a.too_old - b.too_old;
    m.late += a.late - b.late;
  }
  for (const auto& f : end.flows) {
    m.reorder_distance_max = std::max<uint64_t>(m.reorder_distance_max, f.stats.reorder_distance_max);
    m.reorder_delay_max_ns = std::max<uint64_t>(m.reorder_delay_max_ns, f.stats.reorder_delay_max_ns);
  }
  if (settled) {
    auto [aged, young] = aged_and_young_holes(after, *settled);
    m.lost += aged;
    m.outstanding = young;
  } else {
    for (const auto& f : after.flows) m.outstanding += f.outstanding;
  }
  return m;
}

Verdict evaluate(const Gate& g, const Measurement& m) {
  Verdict v;
  char buf[320];
  auto fail = [&](const char* s) {
    v.pass = false;
    v.reasons.emplace_back(s);
  };
  double gbps = m.gbps();
  if (g.min_gbps && gbps < *g.min_gbps) {
    std::snprintf(buf, sizeof buf, "throughput %.3f Gbit/s < required %.3f Gbit/s", gbps, *g.min_gbps);
    fail(buf);
  }
  if (g.min_line_rate) {
    if (!m.line_gbps) {
      fail("line rate unknown: the interface reports no speed (use --min-gbps)");
    } else if (gbps < *g.min_line_rate * *m.line_gbps) {
      std::snprintf(buf, sizeof buf, "throughput %.3f Gbit/s < %.1f%% of line rate %.3f Gbit/s", gbps,
                    *g.min_line_rate * 100, *m.line_gbps);
      fail(buf);
    }
  }
  if (m.unsplit_gso) {
    // Their later segments' PSNs read as lost: the loss figure says nothing, so it is not gated.
    std::snprintf(buf, sizeof buf,
                  "%llu frames were GSO/GRO skbs that generic XDP sees whole and cannot split into packets: "
                  "packets and loss are not measurable on this hook (use --hook tc)",
                  (unsigned long long)m.unsplit_gso);
    fail(buf);
  } else if (m.loss() > g.max_loss) {
    std::snprintf(buf, sizeof buf, "loss %.6g (%llu of %llu request packets never arrived) > allowed %.6g",
                  m.loss(), (unsigned long long)m.lost, (unsigned long long)(m.request_packets + m.lost),
                  g.max_loss);
    fail(buf);
  }
  if (g.max_naks && m.naks > *g.max_naks) {
    std::snprintf(buf, sizeof buf, "NAKs %llu > allowed %llu", (unsigned long long)m.naks,
                  (unsigned long long)*g.max_naks);
    fail(buf);
  }
  if (g.max_cnps && m.cnps > *g.max_cnps) {
    std::snprintf(buf, sizeof buf, "CNPs %llu > allowed %llu", (unsigned long long)m.cnps,
                  (unsigned long long)*g.max_cnps);
    fail(buf);
  }
  if (m.flow_map_full) {
    std::snprintf(buf, sizeof buf, "flow map full: %llu packets not tracked per flow (raise --flow-map-entries)",
                  (unsigned long long)m.flow_map_full);
    fail(buf);
  }
  return v;
}

// Asked through the ethtool ioctl rather than /sys/class/net: sysfs shows the network namespace it was
// mounted in, the ioctl the caller's.
std::optional<double> link_speed_gbps(const std::string& iface) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  ethtool_cmd cmd{};
  cmd.cmd = ETHTOOL_GSET;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&cmd);
  int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  close(fd);
  if (rc != 0) return std::nullopt;
  uint32_t mbps = ethtool_cmd_speed(&cmd);
  if (mbps == 0 || mbps == static_cast<uint32_t>(SPEED_UNKNOWN) || mbps == 0xFFFF) return std::nullopt;
  return static_cast<double>(mbps) / 1000.0;
}

}  // namespace rfab::telemetry
