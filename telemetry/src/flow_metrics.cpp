#include "rfab/telemetry/flow_metrics.hpp"

#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/psn_window.hpp"

namespace rfab::telemetry {
namespace {

constexpr auto C = MetricType::counter;
constexpr auto G = MetricType::gauge;

void flow(Metrics& m, const std::string& iface, const FlowRecord& f) {
  const auto& k = f.key;
  const auto& s = f.stats;
  Labels base{{"iface", iface},
              {"src", format_addr(k.src, k.family)},
              {"dst", format_addr(k.dst, k.family)},
              {"qp", std::to_string(k.qp)},
              {"dir", dir_name(k.dir)}};
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  m.add("rfab_roce_packets_total", "RoCE v2 packets per flow", C, base, d(s.packets));
  m.add("rfab_roce_bytes_total", "RoCE v2 frame bytes per flow (Ethernet header and VLAN tags included)", C,
        base, d(s.bytes));
  // Per opcode class and per NAK syndrome only the classes seen, to keep the series count down.
  for (unsigned c = 0; c < RFAB_OPC_COUNT; ++c) {
    if (!s.op_class[c]) continue;
    Labels l = base;
    l.emplace_back("class", op_class_name(c));
    m.add("rfab_roce_opcode_packets_total", "RoCE v2 packets per flow and opcode class", C, std::move(l),
          d(s.op_class[c]));
  }
  m.add("rfab_roce_ecn_ce_total", "packets with ECN Congestion Experienced", C, base, d(s.ecn_ce));
  m.add("rfab_roce_cnp_total", "congestion notification packets", C, base, d(s.cnps));
  for (unsigned n = 0; n < RFAB_NAK_COUNT; ++n) {
    if (!s.naks[n]) continue;
    Labels l = base;
    l.emplace_back("syndrome", nak_kind_name(n));
    m.add("rfab_roce_nak_total", "NAKs (AETH) per syndrome, RNR NAK included", C, std::move(l), d(s.naks[n]));
  }
  m.add("rfab_roce_psn_gaps_total", "request PSN jumped past the expected PSN (holes opened)", C, base,
        d(s.psn_gaps));
  m.add("rfab_roce_psn_holes_total", "request PSNs skipped by forward jumps (later reordered, lost or outstanding)",
        C, base, d(s.psn_holes));
  m.add("rfab_roce_lost_packets_total",
        "request PSNs that never arrived within the reorder window (PSNs) or within the hole timeout", C, base,
        d(s.lost));
  m.add("rfab_roce_psn_late_total", "lost request PSNs that arrived after the hole timeout (resent)", C, base,
        d(s.late));
  m.add("rfab_roce_psn_outstanding", "holes open in the reorder window (not arrived yet, not lost yet)", G, base,
        d(f.outstanding));
  m.add("rfab_roce_reordered_packets_total", "request packets that filled a hole within the hole timeout", C, base,
        d(s.reordered));
  m.add("rfab_roce_reorder_distance_sum", "sum of reordered packets' distances (PSNs below the highest seen)", C,
        base, d(s.reorder_distance_sum));
  m.add("rfab_roce_reorder_distance_max", "largest distance of a reordered packet", G, base,
        d(s.reorder_distance_max));
  m.add("rfab_roce_reorder_delay_max_seconds", "longest a hole was open before a reordered packet filled it", G,
        base, static_cast<double>(s.reorder_delay_max_ns) / 1e9);
  for (unsigned b = 0; b < RFAB_REORDER_BUCKETS; ++b) {
    if (!s.reorder_hist[b]) continue;
    Labels l = base;
    l.emplace_back("distance", reorder_bucket_name(b));
    m.add("rfab_roce_reorder_distance_packets_total", "reordered packets per distance range", C, std::move(l),
          d(s.reorder_hist[b]));
  }
  m.add("rfab_roce_psn_duplicates_total", "request PSNs seen before (retransmissions)", C, base, d(s.duplicates));
  m.add("rfab_roce_psn_too_old_total", "request PSNs below the reorder window", C, base, d(s.too_old));
  m.add("rfab_roce_psn_backwards_total",
        "request packets below the highest PSN seen (reordered + late + duplicates + too old)",
        C, base, d(s.psn_backwards));
  for (const auto& e : f.entropies) {
    Labels l = base;
    l.emplace_back("sport", std::to_string(e.port));
    m.add("rfab_roce_entropy_packets_total", "RoCE v2 packets per flow and UDP source port (ECMP entropy)", C,
          std::move(l), d(e.packets));
  }
  m.add("rfab_roce_entropy_other_packets_total", "packets of source ports beyond the per-flow entropy table", C,
        base, d(s.entropy_other));
}

void totals(Metrics& m, const std::string& iface, uint8_t dir, const rfab_totals& t) {
  Labels l{{"iface", iface}, {"dir", dir_name(dir)}};
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  m.add("rfab_iface_frames_total", "frames the hook saw", C, l, d(t.frames));
  m.add("rfab_iface_bytes_total", "bytes of the frames the hook saw", C, l, d(t.bytes));
  m.add("rfab_iface_roce_packets_total", "RoCE v2 packets", C, l, d(t.roce_packets));
  m.add("rfab_iface_roce_bytes_total", "RoCE v2 frame bytes", C, l, d(t.roce_bytes));
  m.add("rfab_iface_not_roce_total", "frames that are not RoCE v2", C, l, d(t.not_roce));
  m.add("rfab_iface_malformed_total", "frames to the RoCE port too short for BTH/AETH", C, l, d(t.malformed));
  m.add("rfab_iface_flow_map_full_total", "RoCE packets in no flow because the flow map was full", C, l,
        d(t.flow_map_full));
  m.add("rfab_iface_unsplit_gso_total",
        "GSO/GRO skbs generic XDP saw whole (their segments are neither counted nor PSN-tracked: use the tc hook)",
        C, l, d(t.unsplit_gso));
  m.add("rfab_iface_events_dropped_total", "notable events lost because the ring buffer was full", C, l,
        d(t.events_dropped));
  m.add("rfab_iface_ecn_ce_total", "RoCE packets with ECN CE", C, l, d(t.ecn_ce));
  m.add("rfab_iface_cnp_total", "CNPs", C, l, d(t.cnps));
  m.add("rfab_iface_nak_total", "NAKs and RNR NAKs", C, l, d(t.naks));
  m.add("rfab_iface_psn_gaps_total", "request PSN gaps (holes opened)", C, l, d(t.psn_gaps));
  m.add("rfab_iface_psn_holes_total", "request PSNs skipped by forward jumps", C, l, d(t.psn_holes));
  m.add("rfab_iface_lost_packets_total",
        "request PSNs that never arrived within the reorder window (PSNs) or within the hole timeout", C, l, d(t.lost));
  m.add("rfab_iface_psn_late_total", "lost request PSNs that arrived after the hole timeout (resent)", C, l,
        d(t.late));
  m.add("rfab_iface_reordered_packets_total", "request packets that filled a hole within the hole timeout", C, l,
        d(t.reordered));
  m.add("rfab_iface_psn_duplicates_total", "request PSNs seen before", C, l, d(t.duplicates));
  m.add("rfab_iface_psn_too_old_total", "request PSNs below the reorder window", C, l, d(t.too_old));
  m.add("rfab_iface_psn_backwards_total", "request packets below the highest PSN seen", C, l, d(t.psn_backwards));
}

}  // namespace

void add_flow_metrics(Metrics& m, const std::string& iface, const CollectorSnapshot& s) {
  for (uint8_t dir = 0; dir < RFAB_DIR_COUNT; ++dir) totals(m, iface, dir, s.totals[dir]);
  m.add("rfab_flow_map_entries", "flows tracked", MetricType::gauge, {{"iface", iface}},
        static_cast<double>(s.flows.size()));
  m.add("rfab_flow_map_capacity", "flow map size (--flow-map-entries)", MetricType::gauge, {{"iface", iface}},
        static_cast<double>(s.flow_map_entries));
  for (uint8_t dir = 0; dir < RFAB_DIR_COUNT; ++dir) {
    uint64_t open = 0;
    for (const auto& f : s.flows)
      if (f.key.dir == dir) open += f.outstanding;
    m.add("rfab_iface_psn_outstanding", "holes open in the flows' reorder windows", MetricType::gauge,
          {{"iface", iface}, {"dir", dir_name(dir)}}, static_cast<double>(open));
  }
  for (const auto& f : s.flows) flow(m, iface, f);
}

}  // namespace rfab::telemetry
