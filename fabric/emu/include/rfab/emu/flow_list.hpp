// What every FlowStack does with its list of flows in the same way, whatever transport moves them:
// checking the list against the tree, finding which flows wait for which, and turning per-flow start and
// completion times into the figures the scenario runner reports.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {

// Throws TrafficError naming the first flow whose src/dst is out of range or equal, or that waits for a
// flow that does not exist.
void check_flows(const std::vector<FlowSpec>& flows, uint32_t hosts);

// For each flow, the flows that start when it completes; empty when no flow waits for another.
std::vector<std::vector<uint32_t>> flow_dependents(const std::vector<FlowSpec>& flows);

// A stack's per-flow record: its spec, when it started and when it completed (kNeverPs while not).
template <class F>
concept TimedFlow = requires(const F& f) {
  { f.spec } -> std::convertible_to<const FlowSpec&>;
  { f.started } -> std::convertible_to<Picos>;
  { f.done } -> std::convertible_to<Picos>;
};

// Completion times (done - started) of every completed flow, in flow order.
template <TimedFlow F>
std::vector<Picos> completion_times(const std::vector<F>& flows) {
  std::vector<Picos> out;
  for (const F& f : flows)
    if (f.done != kNeverPs) out.push_back(f.done - f.started);
  return out;
}

// Sum over sending hosts of line rate x (first flow's start .. last flow's completion, or `end`): the
// traffic the hosts offered, the denominator of effective throughput.
template <TimedFlow F>
double offered_bits(const std::vector<F>& flows, uint32_t hosts, double host_bps, Picos end) {
  std::vector<Picos> first(hosts, kNeverPs), last(hosts, 0);
  for (const F& f : flows) {
    if (f.started == kNeverPs || f.started >= end) continue;
    uint32_t h = f.spec.src;
    first[h] = std::min(first[h], f.started);
    last[h] = std::max(last[h], f.done == kNeverPs ? end : std::min(f.done, end));
  }
  double bits = 0;
  for (uint32_t h = 0; h < hosts; ++h)
    if (first[h] != kNeverPs && last[h] > first[h]) bits += double(last[h] - first[h]) * 1e-12 * host_bps;
  return bits;
}

}  // namespace rfab::emu
