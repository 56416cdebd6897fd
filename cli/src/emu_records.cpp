#include "emu_records.hpp"

#include <charconv>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/telemetry/addr.hpp"
#include "rfab/telemetry/bpf_types.h"
#include "rfab/telemetry/json_lines.hpp"

namespace rfab::cli {
namespace {

namespace tm = rfab::telemetry;
constexpr auto C = tm::MetricType::counter;
constexpr auto G = tm::MetricType::gauge;

struct Family {
  const char* name;
  const char* help;
  tm::MetricType type;
};

// The record's families in the order they appear in it (the order of every earlier file).
constexpr Family kIfacePackets{"rfab_iface_roce_packets_total", "RoCE v2 packets", C};
constexpr Family kIfaceBytes{"rfab_iface_roce_bytes_total", "RoCE v2 frame bytes", C};
constexpr Family kIfaceCe{"rfab_iface_ecn_ce_total", "RoCE packets with ECN CE", C};
constexpr Family kIfaceCnp{"rfab_iface_cnp_total", "CNPs", C};
constexpr Family kIfaceLost{"rfab_iface_lost_packets_total", "request packets the fabric dropped on their way here", C};
constexpr Family kIfaceSpeed{"rfab_iface_speed_bps", "link speed of the interface (bits/s): the line rate", G};
constexpr Family kFlowPackets{"rfab_roce_packets_total", "RoCE v2 packets per flow", C};
constexpr Family kFlowBytes{"rfab_roce_bytes_total", "RoCE v2 frame bytes per flow", C};
constexpr Family kFlowOpcode{"rfab_roce_opcode_packets_total", "RoCE v2 packets per flow and opcode class", C};
constexpr Family kFlowCe{"rfab_roce_ecn_ce_total", "packets with ECN Congestion Experienced", C};
constexpr Family kFlowLost{"rfab_roce_lost_packets_total", "request packets of the flow the fabric dropped", C};
constexpr Family kFlowCnp{"rfab_roce_cnp_total", "congestion notification packets", C};
constexpr Family kLinkPackets{"rfab_link_packets_total", "frames the port sent on its link", C};
constexpr Family kLinkBytes{"rfab_link_bytes_total", "frame bytes the port sent on its link", C};
constexpr Family kLinkDrops{"rfab_link_drops_total", "data packets dropped at the switch on their way to this port", C};
constexpr Family kLinkCe{"rfab_link_ecn_ce_total", "packets the port's queue marked ECN CE", C};
constexpr Family kLinkPauses{"rfab_link_pfc_pauses_total", "PFC pauses (XOFF) the port received from its peer", C};
constexpr Family kLinkSpeed{"rfab_link_speed_bps", "the link's speed (bits/s)", G};

// Receives the samples family after family (every sample of a family before the next family's).
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  virtual void sample(const Family& f, std::span<const tm::LabelView> labels, double value) = 0;
};

// A short text on the stack (node names, addresses, numbers): no allocation per sample.
class Text {
 public:
  Text& add(std::string_view s) {
    n_ += s.copy(b_ + n_, sizeof b_ - n_);  // the texts here are far shorter than the buffer
    return *this;
  }
  Text& add(uint64_t v) {
    n_ = static_cast<size_t>(std::to_chars(b_ + n_, b_ + sizeof b_, v).ptr - b_);
    return *this;
  }
  std::string_view view() const { return {b_, n_}; }

 private:
  char b_[40];
  size_t n_ = 0;
};

Text node_name(const topo::FatTree& tree, topo::NodeId n) {
  Text t;
  return n < tree.hosts() ? t.add("host").add(uint64_t{n}) : t.add("sw").add(uint64_t{n - tree.hosts()});
}

Text host_addr(const topo::FatTree& tree, uint32_t host) {
  const uint32_t ip = tree.host_ip(host);
  Text t;
  return t.add(uint64_t{ip >> 24}).add(".").add(uint64_t{(ip >> 16) & 255}).add(".").add(uint64_t{(ip >> 8) & 255})
      .add(".").add(uint64_t{ip & 255});
}

// Per-NIC sums of what the flows and ports counted.
struct Nic {
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, rx_ce = 0, rx_lost = 0, rx_cnps = 0, rx_requests = 0;
};

std::vector<Nic> nic_sums(const topo::FatTree& tree, const emu::FabricCounters& c) {
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
  return nics;
}

// Every sample of the records, family by family (emu_records.hpp says what each one counts).
void visit_samples(const topo::FatTree& tree, const emu::FabricCounters& c, bool zero, SampleSink& sink) {
  auto v = [zero](uint64_t x) { return zero ? 0.0 : static_cast<double>(x); };
  const std::string_view rx = tm::dir_name(RFAB_DIR_INGRESS);
  const std::string_view tx = tm::dir_name(RFAB_DIR_EGRESS);

  // NIC totals: what each host port sent (data and control) and what reached each host.
  const std::vector<Nic> nics = nic_sums(tree, c);
  auto per_nic = [&](const Family& f, auto rx_value, auto tx_value) {
    for (uint32_t h = 0; h < tree.hosts(); ++h) {
      const Text iface = node_name(tree, h);
      const tm::LabelView in[] = {{"iface", iface.view()}, {"dir", rx}};
      const tm::LabelView out[] = {{"iface", iface.view()}, {"dir", tx}};
      sink.sample(f, in, v(rx_value(nics[h])));
      sink.sample(f, out, v(tx_value(nics[h])));
    }
  };
  auto none = [](const Nic&) { return uint64_t{0}; };
  per_nic(kIfacePackets, [](const Nic& n) { return n.rx_packets; }, [](const Nic& n) { return n.tx_packets; });
  per_nic(kIfaceBytes, [](const Nic& n) { return n.rx_bytes; }, [](const Nic& n) { return n.tx_bytes; });
  per_nic(kIfaceCe, [](const Nic& n) { return n.rx_ce; }, none);
  per_nic(kIfaceCnp, [](const Nic& n) { return n.rx_cnps; }, none);
  per_nic(kIfaceLost, [](const Nic& n) { return n.rx_lost; }, none);
  for (uint32_t h = 0; h < tree.hosts(); ++h) {
    const Text iface = node_name(tree, h);
    const tm::LabelView l[] = {{"iface", iface.view()}};
    sink.sample(kIfaceSpeed, l, tree.port_bps(h) * tree.planes());
  }

  // Per flow: its sender's tx record, its receiver's rx record, and its CNPs at the sender (src and dst
  // swapped). `emit(flow, labels)` is called once per seen flow.
  struct FlowLabels {
    std::span<const tm::LabelView> send, receive, cnp;
    std::span<const tm::LabelView> send_write, receive_write;  // with "class":"write"
  };
  auto per_flow = [&](auto&& emit) {
    for (size_t id = 0; id < c.flows.size(); ++id) {
      const auto& f = c.flows[id];
      if (!f.seen) continue;
      const Text s = host_addr(tree, f.src), d = host_addr(tree, f.dst), qp = Text().add(uint64_t{id});
      const Text from = node_name(tree, f.src), to = node_name(tree, f.dst);
      const tm::LabelView send[] = {{"iface", from.view()}, {"src", s.view()}, {"dst", d.view()}, {"qp", qp.view()},
                                    {"dir", tx}, {"class", "write"}};
      const tm::LabelView receive[] = {{"iface", to.view()}, {"src", s.view()}, {"dst", d.view()}, {"qp", qp.view()},
                                       {"dir", rx}, {"class", "write"}};
      const tm::LabelView cnp[] = {{"iface", from.view()}, {"src", d.view()}, {"dst", s.view()}, {"qp", qp.view()},
                                   {"dir", rx}};
      emit(f, FlowLabels{std::span(send, 5), std::span(receive, 5), cnp, send, receive});
    }
  };
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    sink.sample(kFlowPackets, l.send, v(f.packets_sent));
    sink.sample(kFlowPackets, l.receive, v(f.packets_delivered));
    if (f.cnps_delivered) sink.sample(kFlowPackets, l.cnp, v(f.cnps_delivered));
  });
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    sink.sample(kFlowBytes, l.send, v(f.bytes_sent));
    sink.sample(kFlowBytes, l.receive, v(f.bytes_delivered));
  });
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    sink.sample(kFlowOpcode, l.send_write, v(f.packets_sent));
    sink.sample(kFlowOpcode, l.receive_write, v(f.packets_delivered));
  });
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    sink.sample(kFlowCe, l.send, v(0));
    sink.sample(kFlowCe, l.receive, v(f.ce_delivered));
  });
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    sink.sample(kFlowLost, l.send, v(0));
    sink.sample(kFlowLost, l.receive, v(f.drops));
  });
  per_flow([&](const emu::FlowCounters& f, const FlowLabels& l) {
    if (f.cnps_delivered) sink.sample(kFlowCnp, l.cnp, v(f.cnps_delivered));
  });

  // Every egress port and the link behind it. In a multi-plane fabric a port id's record is that port in
  // every plane together (an interface bonding the planes' ports): counters summed, speeds added.
  auto per_port = [&](const Family& f, auto value) {
    for (topo::PortId p = 0; p < c.ports.size(); ++p) {
      const Text node = node_name(tree, tree.owner(p)), port = Text().add(uint64_t{tree.local(p)}),
                 peer = node_name(tree, tree.owner(tree.peer(p)));
      const tm::LabelView l[] = {{"node", node.view()}, {"port", port.view()}, {"peer", peer.view()}};
      sink.sample(f, l, value(p, c.ports[p]));
    }
  };
  per_port(kLinkPackets, [&](topo::PortId, const emu::PortCounters& pc) { return v(pc.packets); });
  per_port(kLinkBytes, [&](topo::PortId, const emu::PortCounters& pc) { return v(pc.bytes); });
  per_port(kLinkDrops, [&](topo::PortId, const emu::PortCounters& pc) { return v(pc.drops); });
  per_port(kLinkCe, [&](topo::PortId, const emu::PortCounters& pc) { return v(pc.ecn_marks); });
  per_port(kLinkPauses, [&](topo::PortId, const emu::PortCounters& pc) { return v(pc.pfc_pauses); });
  per_port(kLinkSpeed, [&](topo::PortId p, const emu::PortCounters&) { return tree.port_bps(p) * tree.planes(); });
}

// Collects the samples into a Metrics (what --prometheus serves).
class MetricsSink : public SampleSink {
 public:
  void sample(const Family& f, std::span<const tm::LabelView> labels, double value) override {
    m.add(f.name, f.help, f.type, tm::Labels(labels.begin(), labels.end()), value);
  }
  tm::Metrics m;
};

// Writes the samples as they come into one record (no record held whole).
class RecordSink : public SampleSink {
 public:
  explicit RecordSink(tm::JsonLineWriter& w) : w_(w) {}
  void sample(const Family& f, std::span<const tm::LabelView> labels, double value) override {
    if (&f != current_) w_.family(f.name);
    current_ = &f;
    w_.sample(labels, value);
  }

 private:
  tm::JsonLineWriter& w_;
  const Family* current_ = nullptr;
};

}  // namespace

tm::Metrics emulator_metrics(const topo::FatTree& tree, const emu::FabricCounters& c, bool zero) {
  MetricsSink sink;
  visit_samples(tree, c, zero, sink);
  return std::move(sink.m);
}

void write_emulator_records(std::ostream& out, const topo::FatTree& tree, const emu::FabricCounters& c,
                            emu::Picos simulated) {
  const uint64_t ns = simulated / 1000;
  tm::JsonLineWriter w(out);
  auto record = [&](bool zero, uint64_t at_ns) {
    w.begin_record(at_ns / 1'000'000);
    w.field("ts_ns", at_ns);  // virtual time, finer than the milliseconds a real collector records
    w.field("scope", "fabric");  // every NIC of the fabric: validate gates what they received
    RecordSink sink(w);
    visit_samples(tree, c, zero, sink);
    w.end_record();
  };
  record(true, 0);
  record(false, ns);
  w.flush();
}

}  // namespace rfab::cli
