// A tiny seeded PRNG for reproducible randomness (ECN marking, fault injection). SplitMix64 (Steele,
// Lea, Flood 2014; the seeder of xoshiro): 8 bytes of state, so an emulator can afford one per switch
// port, and its output is fully specified, unlike std::uniform_real_distribution whose results differ
// between standard libraries. Not for cryptography.
#pragma once
#include <cstdint>

namespace rfab {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n) for n > 0 (Lemire's multiply-shift; the bias is below 2^-64 * n).
  uint64_t below(uint64_t n) {
    __extension__ typedef unsigned __int128 U128;  // __extension__: keeps -Wpedantic quiet
    return static_cast<uint64_t>((static_cast<U128>(next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace rfab
