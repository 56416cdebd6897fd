#include "rfab/gen/generator.hpp"

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

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
  const size_t room = sink.frame_room();
  std::vector<uint8_t*> bufs(burst);
  std::vector<uint32_t> lens(burst);
  // What the sink's buffers hold, when they keep it: a frame like the last one in its buffer is patched.
  std::optional<HeldFrames> held;
  if (sink.keeps_frames()) held.emplace();
  uint64_t sent = 0, bits = 0;
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) break;
    const uint64_t want = lim.count ? std::min<uint64_t>(burst, lim.count - sent) : burst;
    if (want == 0) break;
    // The burst's frames are built straight into the sink's buffers, reserved (and committed) as many at
    // a time as the sink gives; a sink with none free is flushed until it has.
    for (uint64_t done = 0; done < want;) {
      const size_t got = sink.reserve(std::span<uint8_t*>(bufs.data(), want - done));
      if (got == 0) {
        if (stop.load(std::memory_order_relaxed)) break;
        ++r.sink_full_waits;
        sink.flush();
        continue;
      }
      for (size_t i = 0; i < got; ++i) {
        const GenPacket& p = model.next();
        const std::span<uint8_t> out(bufs[i], room);
        const size_t len = held ? builder.build(p, out, held->of(bufs[i])) : builder.build(p, out);
        lens[i] = static_cast<uint32_t>(len);
        truth.sent(p, len);
        bits += len * 8;
      }
      sink.commit(std::span<const uint32_t>(lens.data(), got));
      done += got;
      sent += got;
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
