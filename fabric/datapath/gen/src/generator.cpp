#include "rfab/gen/generator.hpp"

#include <thread>

namespace rfab::gen {
using Clock = std::chrono::steady_clock;

namespace {

// Waits until `t`: sleeps while it is far, then spins, so rates of millions of packets per second stay
// smooth without a core busy in long gaps.
void wait_until(Clock::time_point t) {
  for (;;) {
    const auto now = Clock::now();
    if (now >= t) return;
    if (t - now > std::chrono::microseconds(200)) std::this_thread::sleep_for(t - now - std::chrono::microseconds(100));
  }
}

}  // namespace

RunResult run(TrafficModel& model, FrameBuilder& builder, FrameSink& sink, Truth& truth, const RunLimits& lim,
              const std::atomic<bool>& stop) {
  if (lim.count == 0 && lim.duration.count() == 0) throw GenError("give --count or --duration");
  RunResult r;
  const auto start = Clock::now();
  const auto end = lim.duration.count() ? start + lim.duration : Clock::time_point::max();
  const uint32_t burst = lim.burst ? lim.burst : 1;
  uint64_t sent = 0, bits = 0;
  bool done = false;
  while (!done) {
    for (uint32_t i = 0; i < burst; ++i) {
      if ((lim.count && sent == lim.count) || stop.load(std::memory_order_relaxed)) {
        done = true;
        break;
      }
      const GenPacket& p = model.next();
      std::span<uint8_t> slot = sink.slot();
      while (slot.empty()) {
        ++r.sink_full_waits;
        sink.flush();
        slot = sink.slot();
      }
      const size_t len = builder.build(p, slot);
      sink.commit(len);
      truth.sent(p, len);
      ++sent;
      bits += len * 8;
    }
    sink.flush();
    const auto now = Clock::now();
    if (now >= end) break;
    // Pacing: the next burst leaves when the frames so far are due at the rate(s) asked for.
    Clock::duration due{0};
    if (lim.pps > 0) due = std::max(due, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(sent) / lim.pps)));
    if (lim.bps > 0) due = std::max(due, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(bits) / lim.bps)));
    if (due.count() > 0) wait_until(std::min(start + due, end));
  }
  const auto drain_until = Clock::now() + std::chrono::seconds(1);
  while (sink.pending()) {
    if (Clock::now() > drain_until) throw GenError("the device did not take the last frames within 1 s");
    sink.flush();
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace rfab::gen
