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
// checksum() of fill_pattern(seed)'s first n bytes, computed in small chunks: no n-byte buffer.
uint32_t pattern_checksum(size_t n, uint64_t seed);
// How many whole 8-byte words of [p, p+n) still hold fill_pattern(seed)'s value at their offset. A peer
// that overwrote the region with its own (random) data leaves one with probability 2^-64 per word, so
// "0 unchanged" is the proof that bytes landed when the peer's data itself is unknown (perftest's).
size_t words_still_pattern(const uint8_t* p, size_t n, uint64_t seed);

}  // namespace rfab::cli::perf
