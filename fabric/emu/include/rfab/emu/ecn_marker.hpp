// ECN marking at a switch egress queue, WRED style: no marks at or below kmin, a probability rising
// linearly to pmax at kmax, every packet at or above kmax. The random draws come from one seeded
// xorshift64* stream per fabric, so a run's marks depend only on its seed and event order.
#pragma once
#include <cstdint>

#include "rfab/emu/config.hpp"

namespace rfab::emu {

class EcnMarker {
 public:
  EcnMarker(const EcnConfig& config, uint64_t seed)
      : cfg_(config), state_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}

  // Should a packet joining an egress queue that holds `queued` bytes be marked CE?
  bool mark(uint64_t queued) {
    if (!cfg_.enabled || queued <= cfg_.kmin_bytes) return false;
    if (queued >= cfg_.kmax_bytes) return true;
    double prob = cfg_.pmax * double(queued - cfg_.kmin_bytes) / double(cfg_.kmax_bytes - cfg_.kmin_bytes);
    return double(draw() >> 11) * 0x1.0p-53 < prob;
  }

 private:
  // xorshift64*: deterministic per seed, cheap enough to draw per packet in the marking band.
  uint64_t draw() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }

  EcnConfig cfg_;
  uint64_t state_;
};

}  // namespace rfab::emu
