// DCQCN congestion point: RED-style ECN marking of an ECN-capable packet from the egress queue length it
// joins (in bytes), as switches configure it for DCQCN:
//
//   p(q) = 0                                    q <= Kmin
//          Pmax * (q - Kmin) / (Kmax - Kmin)    Kmin < q <= Kmax
//          1                                    q >  Kmax
//
// (Kmin == Kmax gives a DCTCP-style step at K.) Randomness is injected: either pass a uniform [0, 1)
// draw, or let an EcnMarker own a seeded SplitMix64 so a run is reproducible from its seed. WRED is RED
// with one profile per traffic class (Wred below). Non-ECT packets are the queue's business (drop or
// enqueue), not the marker's.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "rfab/congestion/dcqcn_params.hpp"
#include "rfab/base/rng.hpp"

namespace rfab::cc {

double mark_probability(const RedParams& p, uint64_t queue_bytes);

// Marks when u < p(q), for u uniform in [0, 1): p = 0 never marks, p = 1 always does.
inline bool should_mark(const RedParams& p, uint64_t queue_bytes, double u) {
  return u < mark_probability(p, queue_bytes);
}

class EcnMarker {
 public:
  struct Stats {
    uint64_t packets = 0;
    uint64_t marked = 0;
  };

  // Throws std::invalid_argument if kmin > kmax or pmax is outside [0, 1].
  EcnMarker(const RedParams& p, uint64_t seed);

  // Decides for one ECN-capable packet joining a queue of `queue_bytes`. Draws one random number per
  // call whatever the outcome, so the draw sequence depends only on the number of packets.
  bool mark(uint64_t queue_bytes);

  const RedParams& params() const { return p_; }
  const Stats& stats() const { return stats_; }

 private:
  RedParams p_;
  SplitMix64 rng_;
  Stats stats_{};
};

// Weighted RED: a RED profile per traffic class (IEEE 802.1p priority 0..7); a class without a profile
// is never marked.
class Wred {
 public:
  static constexpr unsigned kClasses = 8;

  explicit Wred(uint64_t seed) : rng_(seed) {}

  // Throws std::invalid_argument for a class >= 8 or an invalid profile.
  void set_profile(unsigned traffic_class, const RedParams& p);
  void clear_profile(unsigned traffic_class);
  const std::optional<RedParams>& profile(unsigned traffic_class) const;

  bool mark(unsigned traffic_class, uint64_t queue_bytes);

 private:
  std::array<std::optional<RedParams>, kClasses> profiles_{};
  SplitMix64 rng_;
};

}  // namespace rfab::cc
