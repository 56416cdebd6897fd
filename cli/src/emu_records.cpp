#include "emu_records.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/bpf_types.h"
#include "rfab/telemetry/json_lines.hpp"

namespace rfab::cli {
namespace {

namespace tm = rfab::telemetry;
constexpr auto C = tm::MetricType::counter;
constexpr auto G = tm::MetricType::gauge;

std::string node_name(const topo::FatTree& tree, topo::NodeId n) {
  return n < tree.hosts() ? "host" + std::to_string(n) : "sw" + std::to_string(n - tree.hosts());
}

std::string host_addr(const topo::FatTree& tree, uint32_t host) {
  const uint32_t ip = tree.host_ip(host);
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

// Per-NIC sums of what the flows and ports counted.
struct Nic {
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, rx_ce = 0, rx_lost = 0, rx_cnps = 0, rx_requests = 0;
};

}  // namespace

tm::Metrics emulator_metrics(const topo::FatTree& tree, const emu::FabricCounters& c, bool zero) {
  tm::Metrics m;
  auto v = [zero](uint64_t x) { return zero ? 0.0 : static_cast<double>(x); };
  const char* rx = tm::dir_name(RFAB_DIR_INGRESS);
  const char* tx = tm::dir_name(RFAB_DIR_EGRESS);

  // NIC totals: what each host port sent (data and control) and what reached each host.
  std::vector<Nic> nics(tree.hosts());
  for (uint32_t h = 0; h < tree.hosts() && h < c.ports.size(); ++h) {
    nics[h].tx_packets = c.ports[h].packets;
    nics[h].tx_bytes = c.ports[h].bytes;
    nics[h].rx_packets = c.ports[h].rx_packets;
    nics[h].rx_bytes = c.ports[h].rx_bytes;
  }
  for (const auto& f : c.flows) {
    if (!f.seen) continue;
    nics[f.dst].rx_ce += f.ce_delivered;
    nics[f.dst].rx_lost += f.drops;
    nics[f.dst].rx_requests += f.packets_delivered;
    nics[f.src].rx_cnps += f.cnps_delivered;
  }
  for (uint32_t h = 0; h < tree.hosts(); ++h) {
    const std::string iface = node_name(tree, h);
    const Nic& n = nics[h];
    for (const char* dir : {rx, tx}) {
      const bool in = dir == rx;
      tm::Labels l{{"iface", iface}, {"dir", dir}};
      m.add("rfab_iface_roce_packets_total", "RoCE v2 packets", C, l, v(in ? n.rx_packets : n.tx_packets));
      m.add("rfab_iface_roce_bytes_total", "RoCE v2 frame bytes", C, l, v(in ? n.rx_bytes : n.tx_bytes));
      m.add("rfab_iface_ecn_ce_total", "RoCE packets with ECN CE", C, l, v(in ? n.rx_ce : 0));
      m.add("rfab_iface_cnp_total", "CNPs", C, l, v(in ? n.rx_cnps : 0));
      m.add("rfab_iface_lost_packets_total", "request packets the fabric dropped on their way here", C, l,
            v(in ? n.rx_lost : 0));
    }
    m.add("rfab_iface_speed_bps", "link speed of the interface (bits/s): the line rate", G, {{"iface", iface}},
          tree.port_bps(h) * tree.planes());
  }

  // Per flow: its sender's tx record, its receiver's rx record, and its CNPs at the sender.
  for (size_t id = 0; id < c.flows.size(); ++id) {
    const auto& f = c.flows[id];
    if (!f.seen) continue;
    const std::string s = host_addr(tree, f.src), d = host_addr(tree, f.dst), qp = std::to_string(id);
    tm::Labels out{{"iface", node_name(tree, f.src)}, {"src", s}, {"dst", d}, {"qp", qp}, {"dir", tx}};
    tm::Labels in{{"iface", node_name(tree, f.dst)}, {"src", s}, {"dst", d}, {"qp", qp}, {"dir", rx}};
    auto flow = [&](const tm::Labels& l, uint64_t packets, uint64_t bytes, uint64_t ce, uint64_t lost) {
      m.add("rfab_roce_packets_total", "RoCE v2 packets per flow", C, l, v(packets));
      m.add("rfab_roce_bytes_total", "RoCE v2 frame bytes per flow", C, l, v(bytes));
      tm::Labels w = l;
      w.emplace_back("class", "write");
      m.add("rfab_roce_opcode_packets_total", "RoCE v2 packets per flow and opcode class", C, std::move(w), v(packets));
      m.add("rfab_roce_ecn_ce_total", "packets with ECN Congestion Experienced", C, l, v(ce));
      m.add("rfab_roce_lost_packets_total", "request packets of the flow the fabric dropped", C, l, v(lost));
    };
    flow(out, f.packets_sent, f.bytes_sent, 0, 0);
    flow(in, f.packets_delivered, f.bytes_delivered, f.ce_delivered, f.drops);
    if (f.cnps_delivered) {
      tm::Labels cl{{"iface", node_name(tree, f.src)}, {"src", d}, {"dst", s}, {"qp", qp}, {"dir", rx}};
      m.add("rfab_roce_packets_total", "RoCE v2 packets per flow", C, cl, v(f.cnps_delivered));
      m.add("rfab_roce_cnp_total", "congestion notification packets", C, cl, v(f.cnps_delivered));
    }
  }

  // Every egress port and the link behind it. In a multi-plane fabric a port id's record is that port in
  // every plane together (an interface bonding the planes' ports): counters summed, speeds added.
  for (topo::PortId p = 0; p < c.ports.size(); ++p) {
    const auto& pc = c.ports[p];
    tm::Labels l{{"node", node_name(tree, tree.owner(p))}, {"port", std::to_string(tree.local(p))},
                 {"peer", node_name(tree, tree.owner(tree.peer(p)))}};
    m.add("rfab_link_packets_total", "frames the port sent on its link", C, l, v(pc.packets));
    m.add("rfab_link_bytes_total", "frame bytes the port sent on its link", C, l, v(pc.bytes));
    m.add("rfab_link_drops_total", "data packets dropped at the switch on their way to this port", C, l, v(pc.drops));
    m.add("rfab_link_ecn_ce_total", "packets the port's queue marked ECN CE", C, l, v(pc.ecn_marks));
    m.add("rfab_link_pfc_pauses_total", "PFC pauses (XOFF) the port received from its peer", C, l, v(pc.pfc_pauses));
    m.add("rfab_link_speed_bps", "the link's speed (bits/s)", G, l, tree.port_bps(p) * tree.planes());
  }
  return m;
}

void write_emulator_records(std::ostream& out, const topo::FatTree& tree, const emu::FabricCounters& c,
                            emu::Picos simulated) {
  const uint64_t ns = simulated / 1000;
  auto line = [&](bool zero, uint64_t at_ns) {
    auto j = nlohmann::ordered_json::parse(tm::render_json_line(emulator_metrics(tree, c, zero), at_ns / 1'000'000));
    // ts_ns right after ts_ms: virtual time, finer than the milliseconds a real collector records.
    nlohmann::ordered_json rec;
    rec["ts_ms"] = j["ts_ms"];
    rec["ts_ns"] = at_ns;
    rec["scope"] = "fabric";  // every NIC of the fabric: validate gates what they received
    rec["metrics"] = std::move(j["metrics"]);
    out << rec.dump() << "\n";
  };
  line(true, 0);
  line(false, ns);
}

}  // namespace rfab::cli
