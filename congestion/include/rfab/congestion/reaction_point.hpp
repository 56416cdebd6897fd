// DCQCN reaction point: the per-flow rate controller at the sender (SIGCOMM'15, section 3.1).
//
//   rate cut (on a CNP, at most one per reduce_period):
//       Rt = Rc;  Rc = max(min_rate, Rc * (1 - alpha/2));  alpha = (1-g) alpha + g
//       the timer, the byte counter and both stage counters restart.
//   alpha decay: each full alpha_period without a cut, alpha = (1-g) alpha.
//   rate increase, one event each time the timer (every rate_period) or the byte counter (every
//   byte_counter bytes sent) fires; T and BC count the events of each since the last cut:
//       fast recovery   max(T, BC) <= F :  Rc = (Rt + Rc) / 2
//       additive        otherwise       :  Rt += R_AI;      Rc = (Rt + Rc) / 2
//       hyper           min(T, BC) > F  :  Rt += i * R_HAI; Rc = (Rt + Rc) / 2,  i = min(T, BC) - F
//   Rt and Rc never exceed the line rate.
//
// Sans-IO: the object never reads a clock. Every call carries `now`, and each one first processes any
// timer event that fell due at or before `now` (at that event's own time), so a driver that wakes late
// gets exactly the trace an on-time driver would. A flow that has never seen a CNP, or that has climbed
// back to line rate, has no timer (next_timer() == kNever): idle flows cost no events.
#pragma once
#include <cstdint>

#include "rfab/congestion/controller.hpp"
#include "rfab/congestion/dcqcn_params.hpp"

namespace rfab::cc {

class DcqcnReactionPoint final : public Controller {
 public:
  enum class Phase : uint8_t { line_rate, fast_recovery, additive, hyper };

  struct Stats {
    uint64_t cnps = 0;            // CNPs received
    uint64_t rate_cuts = 0;       // rate decreases applied
    uint64_t deferred = 0;        // CNPs within reduce_period of a cut: they schedule one cut at its end
    uint64_t coalesced = 0;       // CNPs that found such a deferred cut already pending (no extra effect)
    uint64_t timer_increases = 0; // increase events fired by the timer
    uint64_t byte_increases = 0;  // increase events fired by the byte counter
  };

  // Throws std::invalid_argument if `p` is inconsistent or min_rate exceeds the line rate.
  DcqcnReactionPoint(const DcqcnParams& p, double line_bps);

  // The rate after every event processed so far (const: it cannot run timers; drivers call on_timer at
  // next_timer(), and every non-const call catches up first).
  double rate_bps(Nanos) const override { return rc_; }
  void on_cnp(Nanos now) override;
  void on_send(Nanos now, uint64_t bytes) override;
  void on_ack(Nanos, uint64_t) override {}
  void on_timer(Nanos now) override;
  Nanos next_timer() const override;
  ControllerStats summary(Nanos) const override { return {stats_.cnps, stats_.rate_cuts, rc_, min_rc_}; }

  double current_rate_bps() const { return rc_; }
  double target_rate_bps() const { return rt_; }
  double line_rate_bps() const { return line_; }
  // Alpha as the next rate cut at `now` would use it (including the decay of elapsed alpha periods).
  double alpha(Nanos now) const;
  uint32_t timer_stage() const { return t_stage_; }
  uint32_t byte_stage() const { return bc_stage_; }
  // Phase of the latest increase event (fast_recovery right after a cut; line_rate when not recovering).
  Phase phase() const;
  const Stats& stats() const { return stats_; }
  const DcqcnParams& params() const { return p_; }

 private:
  void advance(Nanos now);  // runs every timer event due at or before `now`, in time order
  void cut(Nanos at);
  void increase();
  bool recovering() const { return next_increase_ != kNever; }

  DcqcnParams p_;
  double line_;
  double rc_;                    // current rate
  double min_rc_;                // lowest current rate so far
  double rt_;                    // target rate
  double alpha_;                 // alpha at alpha_since_
  Nanos alpha_since_ = 0;        // time of the last cut (alpha decays in whole periods from here)
  bool cut_ever_ = false;
  Nanos last_cut_ = 0;
  bool cut_pending_ = false;     // a CNP arrived within reduce_period of the last cut
  Nanos next_increase_ = kNever; // next rate-increase timer expiry
  uint64_t bytes_ = 0;           // bytes sent since the byte counter last fired
  uint32_t t_stage_ = 0;
  uint32_t bc_stage_ = 0;
  Stats stats_{};
};

}  // namespace rfab::cc
