// The flow-level engine checked against the packet-level one: the same flows on the same fat-tree (paced
// hosts, PFC on, no congestion control: what the fluid model models) run to completion in both, and every
// flow's completion time compared. The unit tests hold it to 5% at 1,024 hosts; bench_emu_crossval runs it
// at any size (8,192 hosts takes minutes of CPU in the packet engine).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {

struct CrossValidation {
  uint64_t flows = 0, compared = 0;      // flows completed in both engines are compared
  double median_rel = 0, p90_rel = 0;    // per flow |flow - packet| / packet of completion times
  double mean_flow = 0, mean_packet = 0;  // mean completion time (ps) over the compared flows
  Picos last_flow = 0, last_packet = 0;  // step time: when the last flow completed
  double cpu_flow = 0, cpu_packet = 0;   // CPU seconds of each run
};

// `flows` start at their start times (and after their `after` flow); both runs end at `horizon`.
CrossValidation cross_validate(const std::string& topo_spec, const EmuConfig& cfg, const std::vector<FlowSpec>& flows,
                               Picos horizon);

}  // namespace rfab::emu
