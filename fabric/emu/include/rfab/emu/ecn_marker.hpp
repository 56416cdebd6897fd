// ECN marking at a switch egress queue, WRED style: no marks at or below kmin, a probability rising
// linearly to pmax at kmax, every packet at or above kmax. The random draws come from one seeded
// xorshift64* stream per switch, so a switch's marks depend only on the seed and the order of the packets
// it enqueues: not on what other switches do in between, which a fabric split over several processes
// (partition.hpp) does not see in one order.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/emu/config.hpp"

namespace rfab::emu {

class EcnMarker {
 public:
  // `streams` independent draw streams (one per switch), each seeded from `seed` and its index.
  EcnMarker(const EcnConfig& config, uint64_t seed, uint32_t streams = 1) : cfg_(config), state_(streams ? streams : 1) {
    for (size_t i = 0; i < state_.size(); ++i) {
      // splitmix64 of (seed, index): neighbouring streams start far apart; xorshift needs a non-zero state.
      uint64_t z = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull + i * 0xD1B54A32D192ED03ull;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      state_[i] = z ? z : 1;
    }
  }

  // Should a packet joining an egress queue that holds `queued` bytes be marked CE? `stream`: the switch.
  bool mark(uint64_t queued, uint32_t stream = 0) {
    if (!cfg_.enabled || queued <= cfg_.kmin_bytes) return false;
    if (queued >= cfg_.kmax_bytes) return true;
    double prob = cfg_.pmax * double(queued - cfg_.kmin_bytes) / double(cfg_.kmax_bytes - cfg_.kmin_bytes);
    return double(draw(state_[stream]) >> 11) * 0x1.0p-53 < prob;
  }

  size_t memory_bytes() const { return state_.capacity() * 8; }

 private:
  // xorshift64*: deterministic per seed, cheap enough to draw per packet in the marking band.
  static uint64_t draw(uint64_t& s) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }

  EcnConfig cfg_;
  std::vector<uint64_t> state_;  // per stream
};

}  // namespace rfab::emu
