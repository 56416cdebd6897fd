#include "rfab/emu/budget.hpp"

#include <algorithm>

#include "rfab/base/units.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {
namespace {

// Measured per-item costs, rounded up (docs/emulator.md, "Limits").
constexpr uint64_t kProcessBase = 16ull << 20;        // the process, the event wheel, the packet pool's start
// EgressPort, its share of the per-switch state, and the event queue's count of PFC frames sent to it
constexpr uint64_t kPerPort = 64 + 16 + 4;
constexpr uint64_t kPerHost = 96;                     // wake time, send heap and control queue headers
constexpr uint64_t kPerPacedFlow = 192;               // FlowSpec in the list + the stack's Flow + its heap slot
constexpr uint64_t kRcBase = 64ull << 20;             // the shared 1M-entry send CQ and the 1 MiB MR
constexpr uint64_t kPerRcFlow = 136ull << 10;         // two QueuePairs with their queues (measured 128 KiB)
constexpr uint64_t kPerMultipathRcFlow = 8704ull << 10;  // + the reorder windows: 1024 slots of ~4 KiB per QP

constexpr uint64_t kPerPacket = 40 + 24;               // a Packet in the pool + its arrival event
constexpr uint64_t kPerRcPacketBytes = 4096 + 64;      // rc: the engine's frame bytes travel with the packet

uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }
uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

uint64_t traffic_flow_count(std::string_view spec, const topo::FatTree& tree) {
  if (spec.starts_with("file:")) return 0;
  topo::KeyValues kv;
  try {
    kv = topo::parse_key_values(spec, "traffic");
  } catch (const topo::TopologyError& e) {
    throw TrafficError(e.what());
  }
  const uint64_t h = tree.hosts();
  auto value = [&](const char* key, uint64_t def) {
    auto it = kv.values.find(key);
    if (it == kv.values.end()) return def;
    try {
      return parse_u64(it->second, kv.kind + " " + key);
    } catch (const ParseError& e) {
      throw TrafficError(e.what());
    }
  };
  if (kv.kind == "permutation") return h;
  if (kv.kind == "all-to-all" || kv.kind == "alltoall") return h * (h > 0 ? h - 1 : 0);
  if (kv.kind == "incast") return value("n", 8);
  if (kv.kind == "ring") {
    const uint64_t all = h > 0 ? 2 * (h - 1) : 0;
    const uint64_t steps = value("steps", 0);
    return (steps == 0 || steps > all ? all : steps) * h;
  }
  return 0;  // unknown pattern: make_traffic names it
}

uint64_t estimate_in_flight_packets(const topo::FatTree& tree, const EmuConfig& cfg) {
  const uint64_t frame = uint64_t{cfg.mtu} + cfg.header_bytes;
  uint64_t packets = 0;
  for (topo::NodeId n = tree.hosts(); n < tree.nodes(); ++n) {
    // Lossless, every ingress of a switch holds about its XOFF threshold before it pauses its upstream;
    // lossy, the shared buffer is the bound.
    const uint64_t ports = tree.port_count(n);
    const uint64_t held = cfg.pfc.enabled ? std::min(cfg.switch_buffer_bytes, ports * cfg.pfc.xoff_min_bytes)
                                          : cfg.switch_buffer_bytes;
    packets = sat_add(packets, held / frame + 1);
  }
  // Frames on the wires: one bandwidth-delay product per link.
  const double bdp = tree.link_bps() / 8.0 * double(tree.latency_ps()) / 1e12;
  return sat_add(packets, sat_mul(tree.ports(), uint64_t(bdp / double(frame)) + 1));
}

uint64_t estimate_memory(const topo::FatTree& tree, const EmuConfig& cfg, StackKind stack, uint64_t flows) {
  uint64_t b = kProcessBase;
  b = sat_add(b, sat_mul(tree.ports(), kPerPort));
  b = sat_add(b, sat_mul(tree.hosts(), kPerHost));
  b = sat_add(b, sat_mul(flows, kPerPacedFlow));  // the flow list exists for either stack
  const uint64_t in_flight = estimate_in_flight_packets(tree, cfg);
  b = sat_add(b, sat_mul(in_flight, stack == StackKind::rc ? kPerPacket + kPerRcPacketBytes : kPerPacket));
  if (stack == StackKind::rc) {
    b = sat_add(b, kRcBase);
    b = sat_add(b, sat_mul(flows, cfg.multipath() ? kPerMultipathRcFlow : kPerRcFlow));
  }
  return b;
}

uint64_t estimate_counter_memory(const topo::FatTree& tree, uint64_t flows, unsigned copies) {
  // Ports of every plane: the flow engine adds up its per-plane links (two doubles each) into the records.
  const uint64_t ports = sat_mul(tree.ports(), tree.planes());
  const uint64_t one = sat_add(sat_mul(ports, sizeof(PortCounters)), sat_mul(flows, sizeof(FlowCounters)));
  return sat_mul(one, copies);
}

}  // namespace rfab::emu
