// The generator's send loop: packets from the traffic model, built straight into the sink's buffers, in
// bursts, paced to a packet or bit rate (or as fast as the sink takes them), until a packet count, a
// duration or a stop request; every frame handed to the sink is counted in the truth.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

#include "rfab/gen/frame_builder.hpp"
#include "rfab/gen/sinks.hpp"
#include "rfab/gen/traffic_model.hpp"
#include "rfab/gen/truth.hpp"

namespace rfab::gen {

struct RunLimits {
  uint64_t count = 0;                      // frames to send; 0: no limit
  std::chrono::nanoseconds duration{0};    // 0: no limit (one of the two must be set)
  double pps = 0;                          // packets per second; 0: no packet-rate limit
  double bps = 0;                          // bits per second of frames (no preamble/FCS); 0: none
  uint32_t burst = 32;                     // frames built and flushed together
};

struct RunResult {
  double seconds = 0;          // first frame to the last one taken by the sink
  uint64_t sink_full_waits = 0;  // times the sink had no free buffer (the device was the limit)
};

// Throws GenError when a limit is missing, or when the sink does not take the last frames within a second.
RunResult run(TrafficModel& model, FrameBuilder& builder, FrameSink& sink, Truth& truth, const RunLimits& limits,
              const std::atomic<bool>& stop);

}  // namespace rfab::gen
