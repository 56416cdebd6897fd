#include "rfab/emu/flow_calibration.hpp"

#include <cmath>
#include <stdexcept>

#include "rfab/base/units.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {
namespace {

constexpr const char* kLongPermutation = "permutation:bytes=inf";

std::string us_text(Picos p) { return format_number(double(p) / 1e6) + " us"; }

}  // namespace

std::string calibration_traffic(const std::string& traffic, std::string& fallback) {
  fallback.clear();
  if (traffic.starts_with("file:")) {
    fallback = "a connection matrix names the fabric's hosts";
    return kLongPermutation;
  }
  if (traffic.starts_with("step:")) {
    fallback = "a collective step is a schedule of finite transfers the packet-level engine does not run";
    return kLongPermutation;
  }
  std::string kind;
  try {
    kind = topo::parse_key_values(traffic, "traffic").kind;
  } catch (const topo::TopologyError&) {
    kind.clear();  // the full-size run reports the bad spec
  }
  if (kind == "permutation" || kind == "all-to-all" || kind == "alltoall") return kind + ":bytes=inf";
  fallback = kind.empty() ? "the traffic spec is not a pattern"
                          : "the " + kind + " pattern does not carry over to a smaller tree";
  return kLongPermutation;
}

FlowCalibration calibrate_flow(const ScenarioSpec& spec, const CalibrationSpec& cal) {
  const topo::FatTree fabric(topo::parse_fat_tree(spec.topology));
  const topo::FatTree sample = [&] {
    try {
      return topo::FatTree(topo::parse_fat_tree(cal.sample_topology));
    } catch (const topo::TopologyError& e) {
      throw topo::TopologyError(std::string("calibrate: the sample: ") + e.what());
    }
  }();
  if (sample.hosts() > fabric.hosts())
    throw std::invalid_argument("calibrate: the sample has " + std::to_string(sample.hosts()) +
                                " hosts, more than the fabric's " + std::to_string(fabric.hosts()) +
                                "; give a smaller fat-tree");
  if (sample.host_bps() != fabric.host_bps() || sample.link_bps() != fabric.link_bps())
    throw std::invalid_argument("calibrate: the sample's links (" + format_number(sample.host_bps() / 1e9) + "G hosts, " +
                                format_number(sample.link_bps() / 1e9) + "G switches) must have the fabric's speeds (" +
                                format_number(fabric.host_bps() / 1e9) + "G, " +
                                format_number(fabric.link_bps() / 1e9) + "G per plane)");
  if (cal.duration == 0) throw std::invalid_argument("calibrate-time: the sample's simulated time must be > 0");
  if (cal.warmup >= cal.duration)
    throw std::invalid_argument("calibrate-warmup: " + us_text(cal.warmup) + " leaves nothing to measure in a sample of " +
                                us_text(cal.duration) + " (it must be shorter than --calibrate-time)");

  FlowCalibration c;
  c.sample_topology = sample.describe();
  c.sample_hosts = sample.hosts();
  c.traffic = calibration_traffic(spec.traffic, c.fallback);
  c.duration = cal.duration;
  c.warmup = cal.warmup;

  ScenarioSpec s = spec;
  s.topology = cal.sample_topology;
  s.traffic = c.traffic;
  s.duration = cal.duration;
  s.counters = false;
  s.samples = 0;
  s.on_counters = {};
  s.link_efficiency = 1;
  s.calibrated = false;

  ScenarioSpec packet = s;
  packet.engine = "packet";
  packet.warmup = cal.warmup;
  const Report rp = run_scenario(packet);

  // The flow engine takes no warm-up: its throughput over the packet run's window is the difference of a
  // run to the end and one to the warm-up (the first bytes of a fluid flow arrive a path's delay late too).
  ScenarioSpec flow = s;
  flow.engine = "flow";
  flow.warmup = 0;
  flow.cc = "none";
  flow.ar_view = ArView::local;  // the fluid model's AR: ideal splitting
  const Report rf = run_flow_scenario(flow);
  Report rw;
  if (cal.warmup > 0) {
    flow.duration = cal.warmup;
    rw = run_flow_scenario(flow);
  }
  const double offered = rf.offered_bits - rw.offered_bits;
  const double flow_throughput =
      offered > 0 ? double(rf.payload_delivered - rw.payload_delivered) * 8.0 / offered : 0.0;

  c.packet_throughput = rp.throughput;
  c.flow_throughput = flow_throughput;
  c.cpu_packet = rp.cpu_seconds;
  c.cpu_flow = rf.cpu_seconds + rw.cpu_seconds;
  if (!(flow_throughput > 0))
    throw std::invalid_argument("calibrate: the flow engine delivered nothing on the sample (" + c.traffic + ")");
  if (!(rp.throughput > 0))
    throw std::invalid_argument("calibrate: the packet-level sample delivered nothing after its " + us_text(cal.warmup) +
                                " warm-up; give a longer --calibrate-time");
  c.efficiency = std::min(1.0, rp.throughput / flow_throughput);
  return c;
}

ScenarioSpec calibrated(ScenarioSpec spec, const FlowCalibration& c) {
  spec.link_efficiency = c.efficiency;
  spec.calibrated = true;
  return spec;
}

}  // namespace rfab::emu
