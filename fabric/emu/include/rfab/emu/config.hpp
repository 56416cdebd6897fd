// Knobs of the packet-level fabric: routing policy, buffers, ECN, PFC and packet framing.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/emu/event_queue.hpp"

namespace rfab::emu {

enum class Routing : uint8_t {
  ecmp,     // per-flow 5-tuple hash (UDP source port = entropy)
  ar,       // per-packet adaptive: least-loaded equal-cost up-port (Spectrum-X style)
  flowlet,  // re-pick the least-loaded up-port when a flow pauses longer than flowlet_gap
};
Routing parse_routing(std::string_view s);  // throws std::invalid_argument naming the value
const char* to_string(Routing r);

// What an adaptive-routing switch compares when it picks a port.
enum class ArView : uint8_t {
  local,  // its own egress queues only (per-packet AR in a single switch ASIC)
  path,   // the queues along each candidate's best way down to the destination (a fabric that shares
          // congestion state between switches, as Spectrum-X-style AR and CONGA do), seen without delay
};
const char* to_string(ArView v);

// A --routing value: the policy and, for `ar`, its options ("ar:view=path,quantum=16K").
struct RoutingChoice {
  Routing routing = Routing::ecmp;
  ArView ar_view = ArView::local;
  uint64_t ar_quantum_bytes = 0;  // 0: EmuConfig's default
  uint32_t ar_choices = 2;        // view=path only
};
// Throws std::invalid_argument naming the bad part.
RoutingChoice parse_routing_choice(std::string_view s);

// Bytes a RoCE v2 data packet adds to its payload on the wire: Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 +
// ICRC 4 + FCS 4 = 62, plus the preamble/SFD 8 and inter-frame gap 12 = 20 that occupy the line too.
inline constexpr uint32_t kRoceHeaderBytes = 62;
inline constexpr uint32_t kPreambleIfgBytes = 20;
// A CNP is a minimum 64-byte frame (BTH + 16 reserved bytes, padded).
inline constexpr uint32_t kCnpFrameBytes = 64;
// Most UDP source ports a host sprays one flow over (the rc engine's EntropyPolicy limit).
inline constexpr uint32_t kMaxSprayPaths = 256;

// The i-th entropy of a flow whose fixed port is `base`: the rc engine's spacing (rc::entropy_port), so
// both host stacks spray over the same kind of port set. Ports stay in RoCE's 0xC000-0xFFFF range.
inline uint16_t spray_port(uint16_t base, uint32_t i) {
  return uint16_t(0xC000u | ((base + i * 0x9E5u) & 0x3FFFu));
}

struct EcnConfig {
  bool enabled = true;
  // WRED on the egress queue: no marks below kmin, linear up to pmax at kmax, every packet above kmax.
  uint64_t kmin_bytes = 100 * 1024;
  uint64_t kmax_bytes = 400 * 1024;
  double pmax = 0.2;
};

struct PfcConfig {
  bool enabled = true;
  // Per ingress port (one lossless priority): send XOFF upstream once the bytes buffered here that arrived
  // on the port exceed the threshold, XON once they drain `hysteresis` below it. As in shared-buffer
  // switch ASICs the threshold is dynamic: max(xoff_min, alpha x free shared buffer), so a lightly used
  // switch absorbs bursts and a full one pauses early. The headroom that absorbs what is in flight after
  // XOFF is reserved out of the shared buffer for every port; 0 = computed from the link:
  // 2 x (latency x rate) + 2 max frames + a pause frame.
  uint64_t xoff_min_bytes = 256 * 1024;
  double alpha = 1.0 / 64;
  uint64_t hysteresis_bytes = 128 * 1024;
  uint64_t headroom_bytes = 0;
};

struct EmuConfig {
  Routing routing = Routing::ecmp;
  Picos flowlet_gap_ps = 2'000'000;  // 2 us: larger than one RTT skew between equal-cost paths
  uint32_t flowlet_table = 256;           // entries per switch (hashed), as a switch's flowlet table
  // NIC-side spraying: hosts rotate each flow's packets over this many UDP source ports, which ECMP
  // switches hash onto different paths (per-packet load balancing decided by the sender, not the switch).
  // 0 or 1 = one port per flow, as RoCE NICs do by default.
  uint16_t spray_paths = 0;
  // With spray_paths > 1 on rc hosts: the rc engine's adaptive policy steers the spray away from ports
  // that draw CNPs, NAKs or long round trips (docs/multipath.md).
  bool spray_adaptive = false;
  // With spray_paths > 1 on paced hosts (and in the flow engine): the entropies are picked one per distinct
  // ECMP path (spray_cover.hpp) instead of hashed ones, which land on paths at random.
  bool spray_cover = false;
  uint64_t ar_quantum_bytes = 64 * 1024;  // queue-depth resolution of adaptive routing decisions
  ArView ar_view = ArView::local;
  // ArView::path: candidates compared per packet (0 = all equal-cost ports). Two by default: switches
  // that see the same downstream queue at once and all take the least-loaded path overload it a few
  // microseconds later (k=16 permutation: 0.89 of line comparing all, 0.976 comparing two).
  uint32_t ar_choices = 2;
  uint32_t mtu = 4096;               // RoCE payload bytes per data packet
  uint32_t header_bytes = kRoceHeaderBytes;
  uint32_t framing_bytes = kPreambleIfgBytes;  // counted in serialization time, not in buffers
  uint64_t switch_buffer_bytes = 64ull << 20;  // shared buffer per switch
  // Lossy mode: an egress queue may use at most alpha x (free shared buffer) (dynamic threshold).
  double dt_alpha = 8.0;
  EcnConfig ecn;
  PfcConfig pfc;
  // Egress ports whose links are down for the whole run (parse_failures in failures.hpp); routing goes
  // around them.
  std::vector<uint32_t> failed_ports;
  uint64_t seed = 1;
  // Flow engine only: every fabric link's capacity times this (a calibrated efficiency, flow_calibration.hpp);
  // 1 = the links' payload rate.
  double link_efficiency = 1;

  uint32_t data_frame_bytes(uint32_t payload) const { return payload + header_bytes; }
  // Whether one flow's packets can take different paths (and so arrive out of order).
  bool multipath() const { return routing != Routing::ecmp || spray_paths > 1; }
};

}  // namespace rfab::emu
