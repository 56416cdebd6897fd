// Calibration of the flow-level engine from a packet-level run of a sample of the fabric. The fluid model
// has no queues, PFC, ECN or congestion control, and its adaptive routing splits ideally; what those cost
// (or, with DCQCN, what a rate controller leaves unused) is measured instead on a smaller fat-tree of the
// same speed: long-lived flows run in the packet-level engine with the scenario's routing, AR view, spray,
// congestion control, PFC, MTU and seed, and in the flow engine with what it models. Their throughput
// ratio over the same window after a warm-up, eta = packet / flow in (0, 1], becomes every fabric link's
// capacity factor in the full-size flow run (ScenarioSpec::link_efficiency). It is one global efficiency:
// no per-link or per-flow dynamics, no pauses spreading, no transient (docs/emulator.md).
#pragma once
#include <cstdint>
#include <string>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/scenario.hpp"

namespace rfab::emu {

struct CalibrationSpec {
  std::string sample_topology;       // a fat-tree spec: no more hosts than the fabric, the same link speeds
  Picos duration = 300'000'000;      // each sample run: 300 us
  Picos warmup = 100'000'000;        // the packet-level run's throughput is measured after this
};

struct FlowCalibration {
  std::string sample_topology;  // FatTree::describe() of the sample
  uint32_t sample_hosts = 0;
  std::string traffic;          // what ran on the sample
  std::string fallback;         // why the scenario's traffic did not (empty: its pattern, long-lived, did)
  Picos duration = 0, warmup = 0;
  double packet_throughput = 0;  // of offered line rate, after the warm-up
  double flow_throughput = 0;    // of offered line rate, over the same window
  double efficiency = 1;         // packet / flow, clamped to (0, 1]
  double cpu_packet = 0, cpu_flow = 0;
};

// The traffic the sample runs for a scenario's traffic spec: its pattern with long-lived flows when the
// pattern scales to any tree (permutation, all-to-all); a long-lived permutation otherwise, with the
// reason in `fallback`.
std::string calibration_traffic(const std::string& traffic, std::string& fallback);

// Runs the sample in both engines. `spec` is the full-size flow-engine scenario (its topology is the
// fabric's; engine, duration, warm-up and sampling are not used). Throws topo::TopologyError for a bad
// sample spec and std::invalid_argument for a sample that does not fit the fabric or a run that measures
// nothing.
FlowCalibration calibrate_flow(const ScenarioSpec& spec, const CalibrationSpec& cal);

// `spec` with the calibration applied: the flow engine's link capacities times the efficiency, and the
// options only the packet-level sample models (congestion control, ar:view=) accepted.
ScenarioSpec calibrated(ScenarioSpec spec, const FlowCalibration& c);

}  // namespace rfab::emu
