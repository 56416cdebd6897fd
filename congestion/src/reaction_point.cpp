#include "rfab/congestion/reaction_point.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "rfab/base/spec.hpp"

namespace rfab::cc {

DcqcnReactionPoint::DcqcnReactionPoint(const DcqcnParams& p, double line_bps)
    : p_(p), line_(line_bps), rc_(line_bps), min_rc_(line_bps), rt_(line_bps), alpha_(p.initial_alpha) {
  p_.validate();
  if (!(std::isfinite(line_bps) && line_bps > 0)) {
    throw std::invalid_argument("dcqcn: line rate must be > 0 bit/s");
  }
  if (p_.min_rate_bps > line_bps) {
    throw std::invalid_argument("dcqcn: min_rate " + spec::format_rate(p_.min_rate_bps) +
                                " exceeds the line rate " + spec::format_rate(line_bps));
  }
}

double DcqcnReactionPoint::alpha(Nanos now) const {
  if (!cut_ever_ || now <= alpha_since_) return alpha_;
  const Nanos periods = (now - alpha_since_) / p_.alpha_period;
  if (periods == 0) return alpha_;
  // Same value as applying (1-g) once per period, without an event per period: alpha only matters at a
  // cut, so it is evaluated lazily there.
  return alpha_ * std::pow(1.0 - p_.g, static_cast<double>(periods));
}

Nanos DcqcnReactionPoint::next_timer() const {
  Nanos t = next_increase_;
  if (cut_pending_) t = std::min(t, last_cut_ + p_.reduce_period);
  return t;
}

void DcqcnReactionPoint::advance(Nanos now) {
  for (;;) {
    const Nanos due_cut = cut_pending_ ? last_cut_ + p_.reduce_period : kNever;
    const Nanos due_inc = next_increase_;
    const Nanos due = std::min(due_cut, due_inc);
    if (due == kNever || due > now) return;
    if (due_cut <= due_inc) {
      cut(due_cut);  // a cut restarts the increase timer, so it goes first on a tie
    } else {
      ++t_stage_;
      ++stats_.timer_increases;
      next_increase_ += p_.rate_period;
      increase();
    }
  }
}

void DcqcnReactionPoint::on_timer(Nanos now) { advance(now); }

void DcqcnReactionPoint::on_cnp(Nanos now) {
  advance(now);
  ++stats_.cnps;
  if (cut_ever_ && now < last_cut_ + p_.reduce_period) {
    if (cut_pending_) {
      ++stats_.coalesced;
    } else {
      ++stats_.deferred;
      cut_pending_ = true;
    }
    return;
  }
  cut(now);
}

void DcqcnReactionPoint::on_send(Nanos now, uint64_t bytes) {
  advance(now);
  if (!recovering() || p_.byte_counter == 0) return;
  bytes_ += bytes;
  while (bytes_ >= p_.byte_counter && recovering()) {
    bytes_ -= p_.byte_counter;
    ++bc_stage_;
    ++stats_.byte_increases;
    increase();
  }
}

void DcqcnReactionPoint::cut(Nanos at) {
  const double a = alpha(at);
  // clamp_target=false (ConnectX default) keeps the old target unless the timer raised the rate since
  // the previous cut, so a burst of cuts does not drag the target down with the current rate.
  if (p_.clamp_target || t_stage_ > 0) rt_ = rc_;
  rc_ = std::max(p_.min_rate_bps, rc_ * (1.0 - a / 2.0));
  min_rc_ = std::min(min_rc_, rc_);
  alpha_ = (1.0 - p_.g) * a + p_.g;
  alpha_since_ = at;
  cut_ever_ = true;
  last_cut_ = at;
  cut_pending_ = false;
  t_stage_ = 0;
  bc_stage_ = 0;
  bytes_ = 0;
  next_increase_ = at + p_.rate_period;
  ++stats_.rate_cuts;
}

void DcqcnReactionPoint::increase() {
  const uint32_t f = p_.fast_recovery;
  const uint32_t hi = std::max(t_stage_, bc_stage_);
  // A disabled byte counter stays at stage 0, so hyper increase (which needs both counters past F)
  // never happens and the timer alone walks fast recovery then additive increase.
  const uint32_t lo = p_.byte_counter == 0 ? 0 : std::min(t_stage_, bc_stage_);
  if (hi <= f) {
    // fast recovery: Rt unchanged
  } else if (lo > f) {
    rt_ = std::min(line_, rt_ + static_cast<double>(lo - f) * p_.rhai_bps);
  } else {
    rt_ = std::min(line_, rt_ + p_.rai_bps);
  }
  rc_ = std::min(line_, (rt_ + rc_) / 2.0);
  // Halving the gap never closes it exactly in floating point; within 1 bit/s of the target counts as
  // there. Back at line rate the flow needs no timer until its next CNP.
  if (rt_ - rc_ < 1.0) rc_ = rt_;
  if (rc_ >= line_) {
    rc_ = line_;
    next_increase_ = kNever;
    bytes_ = 0;
  }
}

DcqcnReactionPoint::Phase DcqcnReactionPoint::phase() const {
  if (!recovering()) return Phase::line_rate;
  const uint32_t f = p_.fast_recovery;
  const uint32_t hi = std::max(t_stage_, bc_stage_);
  const uint32_t lo = p_.byte_counter == 0 ? 0 : std::min(t_stage_, bc_stage_);
  if (hi <= f) return Phase::fast_recovery;
  if (lo > f) return Phase::hyper;
  return Phase::additive;
}

}  // namespace rfab::cc
