// Where a step's time goes. A step (step_traffic.hpp) ends when its last flow is received; walking back from
// that flow, each flow started when the last of the flows it waited for was done, so the chain of latest
// dependencies is the step's critical path. Its flows' transfer times, summed per phase of the step
// (pipeline forward, tensor-parallel allreduce, ...; each split into NVLink and fabric transfers), say
// which part of the training step the fabric should be made faster for; the phases' totals (flows, bytes,
// first start to last done) say how much of each ran off the path, overlapped with it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/traffic.hpp"

namespace rfab::emu {

struct PhaseTime {
  std::string phase;          // e.g. "data-parallel allreduce (fabric)"
  Picos critical = 0;         // this phase's transfers on the critical path
  uint32_t critical_flows = 0;
  uint64_t flows = 0, bytes = 0;  // all of the phase's flows
  Picos first_start = kNeverPs, last_done = 0;
};

struct PathSegment {
  Picos start = 0, done = 0;
  uint32_t phase = 0;  // index into StepBreakdown::phases
};

struct StepBreakdown {
  Picos step = 0;     // when the last flow was received
  Picos waiting = 0;  // on the critical path between a flow's dependencies being done and its start
  std::vector<PhaseTime> phases;  // in the order the step names them; phases without flows left out
  std::vector<PathSegment> path;  // the critical path's transfers, earliest first
};

// `started` and `done` are each flow's start and last-byte-received times (kNeverPs: not done). Empty when
// the traffic names no phases or some flow never completed (the step has no time then).
StepBreakdown step_breakdown(const Traffic& traffic, const std::vector<Picos>& started, const std::vector<Picos>& done);

}  // namespace rfab::emu
