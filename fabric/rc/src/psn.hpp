// 24-bit packet sequence number arithmetic (IBTA 9.7.1): PSNs wrap at 2^24 and compare within half the space.
#pragma once
#include <cstdint>

namespace rfab::rc::psn {

inline constexpr uint32_t kMask = 0xFFFFFF;
inline constexpr uint32_t add(uint32_t a, uint32_t n) { return (a + n) & kMask; }
// a - b as a signed distance in [-2^23, 2^23).
inline constexpr int32_t diff(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(((a - b) & kMask) << 8) >> 8;
}

}  // namespace rfab::rc::psn
