// `rfab emulate --report FILE`: one run as a self-contained HTML page with SVG charts (throughput over time,
// link utilisation per tier as a heatmap, queue depth, PFC pauses / ECN marks / CNPs over time, the flow
// completion-time CDF and flow completions over time, and for a step the critical path by phase).
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "rfab/emu/scenario.hpp"

namespace rfab::cli {

// Another routing mode run on the same scenario (`rfab emulate --compare`).
struct ComparedRun {
  std::string routing;
  emu::Report report;
};

struct ReportContext {
  std::string command;  // the command line, shown verbatim
  std::vector<std::pair<std::string, std::string>> settings;  // (name, value) rows of the scenario table
  std::string routing;                                         // the main run's routing
  std::vector<ComparedRun> compared;                           // drawn beside it in the throughput chart
  bool fluid = false;  // the flow-level engine's run: no queues, pauses, marks or drops to chart
};

// `r` must come from a run with ScenarioSpec::samples > 0.
void write_emulation_report(std::ostream& out, const emu::Report& r, const ReportContext& ctx);

}  // namespace rfab::cli
