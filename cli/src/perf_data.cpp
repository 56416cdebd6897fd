#include "perf_data.hpp"

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

}  // namespace rfab::cli::perf
