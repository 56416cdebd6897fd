// Time in the sans-IO world: plain nanosecond counts handed in by the driver (real clock or virtual time).
#pragma once
#include <cstdint>

namespace rfab {

using Nanos = uint64_t;  // absolute time or a duration, in nanoseconds
inline constexpr Nanos kNever = ~Nanos{0};
inline constexpr Nanos operator""_us(unsigned long long v) { return v * 1000; }
inline constexpr Nanos operator""_ms(unsigned long long v) { return v * 1000000; }

}  // namespace rfab
