// The interface between a sender (an RC queue pair's requester) and its congestion controller.
// Pure and clock-injected: the controller never reads a clock; every call carries `now`. The driver (UDP
// datapath or emulator) paces packets at rate_bps(now) and calls on_timer(now) at next_timer().
#pragma once
#include <cstdint>
#include <memory>

#include "rfab/base/time.hpp"

namespace rfab::cc {

// What a controller has done, for counters and reports.
struct ControllerStats {
  uint64_t cnps = 0;        // CNPs handed to the controller
  uint64_t rate_cuts = 0;   // rate (or window) decreases applied
  double rate_bps = 0;      // the rate allowed now
  double min_rate_bps = 0;  // the lowest rate allowed since creation
};

class Controller {
 public:
  virtual ~Controller() = default;
  // Current allowed sending rate in bits per second.
  virtual double rate_bps(Nanos now) const = 0;
  // A CNP arrived for this flow (the receiver saw ECN-CE).
  virtual void on_cnp(Nanos now) = 0;
  // `bytes` of new data left the sender (drives DCQCN's byte counter).
  virtual void on_send(Nanos now, uint64_t bytes) = 0;
  // `bytes` were acknowledged (for window/delay-based controllers; DCQCN ignores it).
  virtual void on_ack(Nanos now, uint64_t bytes) = 0;
  // Periodic work (DCQCN's alpha and rate-increase timers). Returns nothing; call again at next_timer().
  virtual void on_timer(Nanos now) = 0;
  // Absolute time at which on_timer must next be called, or kNever.
  virtual Nanos next_timer() const = 0;
  // Counters and rates as of `now`.
  virtual ControllerStats summary(Nanos now) const = 0;
};

// No congestion control: always line rate.
class LineRate final : public Controller {
 public:
  explicit LineRate(double line_bps) : line_bps_(line_bps) {}
  double rate_bps(Nanos) const override { return line_bps_; }
  void on_cnp(Nanos) override { ++cnps_; }
  void on_send(Nanos, uint64_t) override {}
  void on_ack(Nanos, uint64_t) override {}
  void on_timer(Nanos) override {}
  Nanos next_timer() const override { return kNever; }
  ControllerStats summary(Nanos) const override { return {cnps_, 0, line_bps_, line_bps_}; }

 private:
  double line_bps_;
  uint64_t cnps_ = 0;
};

}  // namespace rfab::cc
