#include "perf_data.hpp"

#include <algorithm>
#include <cstring>

#include "rfab/wire/crc32.hpp"

namespace rfab::cli::perf {

void fill_pattern(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    std::memcpy(p + i, &z, n - i < 8 ? n - i : 8);
  }
}

uint32_t checksum(const uint8_t* p, size_t n) { return wire::crc32_update(0, p, n); }

uint32_t pattern_checksum(size_t n, uint64_t seed) {
  uint8_t chunk[65536];
  uint32_t crc = 0;
  for (size_t off = 0; off < n; off += sizeof chunk) {
    // fill_pattern's stream is positional (one step per 8-byte word) and chunks are whole words.
    const size_t len = std::min(sizeof chunk, n - off);
    fill_pattern(chunk, len, seed + 0x9E3779B97F4A7C15ull * (off / 8));
    crc = wire::crc32_update(crc, chunk, len);
  }
  return crc;
}

size_t words_still_pattern(const uint8_t* p, size_t n, uint64_t seed) {
  uint8_t want[4096];
  size_t same = 0;
  for (size_t off = 0; off + 8 <= n; off += sizeof want) {
    // fill_pattern's stream is positional: regenerate the chunk starting at `off`.
    const size_t len = std::min(sizeof want, n - off) & ~size_t{7};
    fill_pattern(want, len, seed + 0x9E3779B97F4A7C15ull * (off / 8));
    for (size_t i = 0; i < len; i += 8) same += std::memcmp(p + off + i, want + i, 8) == 0;
  }
  return same;
}

}  // namespace rfab::cli::perf
