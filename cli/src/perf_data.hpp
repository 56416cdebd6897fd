// Deterministic buffer contents for `rfab perf` so the receiving side can check what arrived: a seeded
// byte pattern, and the CRC-32 of a region.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rfab::cli::perf {

// Fills [p, p+n) with the pattern of `seed` (SplitMix64 stream, little-endian).
void fill_pattern(uint8_t* p, size_t n, uint64_t seed);
// CRC-32 (zlib convention) of [p, p+n).
uint32_t checksum(const uint8_t* p, size_t n);

}  // namespace rfab::cli::perf
