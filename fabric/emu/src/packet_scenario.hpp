// What the single-queue and the partitioned packet-level runs share (scenario.cpp,
// partitioned_scenario.cpp): the spec checked and turned into a tree, a fabric config, the flow list and
// the controllers, and the report's figures from the run's totals.
#pragma once
#include <string>
#include <vector>

#include "rfab/emu/failures.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/paced_stack.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct PacketScenario {
  explicit PacketScenario(topo::FatTree t) : tree(std::move(t)) {}
  topo::FatTree tree;
  EmuConfig cfg;
  FailureSet failures;
  std::vector<FlowSpec> flows;
  ControllerFactory factory;
  Nanos cnp_interval = 0;  // 0: no CNPs
  std::string what;        // "the emulation of N hosts and M switches", for resource errors
  Report report;           // what is known before the run: topology, hosts, flows, memory estimate
};

// Checks `spec` (engine "packet") and builds what the run needs; throws as run_scenario documents.
PacketScenario prepare_packet_scenario(const ScenarioSpec& spec);

// A run's totals, over every part of a partitioned one.
struct RunTotals {
  FabricStats fabric;
  StackStats stack;
  uint64_t delivered_at_warmup = 0;
  double offered_at_warmup = 0, offered = 0;  // FlowStack::offered_bits at the warm-up's end and the run's
  uint64_t retransmits = 0;
  std::vector<Picos> fct;  // completion times in flow order
  Picos last_done = 0;
};

// The report's figures from the totals (everything but cpu/wall time, peak RSS and counters).
void fill_report(Report& r, const ScenarioSpec& spec, const PacketScenario& setup, RunTotals totals);

}  // namespace rfab::emu
