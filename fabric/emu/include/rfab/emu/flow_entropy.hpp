// The UDP source port (ECMP entropy) of flow `flow` in a run seeded `seed`: RoCE NICs derive it from the QP
// (rxe: 0xC000 | hash(qpn)); each flow is one QP in the emulator, and the seed salts it so different seeds
// give different ECMP placements. The paced host stack and the flow-level engine must agree on it for
// their ECMP paths to be the same (test_flow_engine checks they do).
#pragma once
#include <cstdint>

namespace rfab::emu {

inline uint16_t flow_entropy(uint32_t flow, uint64_t seed) {
  uint64_t x = (uint64_t(flow) + 1) * 0x9E3779B97F4A7C15ull ^ (seed * 0xBF58476D1CE4E5B9ull);
  x ^= x >> 29;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 32;
  return uint16_t(0xC000u | (x & 0x3FFFu));
}

}  // namespace rfab::emu
