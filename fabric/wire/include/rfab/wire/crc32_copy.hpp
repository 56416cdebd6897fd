// CRC-32 (the same as crc32.hpp) folded into a copy: for a receiver that must both place a payload and
// check it, one pass over the bytes instead of two (each block is loaded once, stored to the destination
// and folded into the CRC state in the same loop). Same engines and RFAB_CRC32 choice as crc32_update.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rfab::wire {

// Copies `len` bytes from `src` to `dst` (the ranges must not overlap) and returns
// crc32_update(crc, src, len).
uint32_t crc32_copy_update(uint32_t crc, uint8_t* dst, const uint8_t* src, size_t len);

// The 128-bit PCLMULQDQ path alone (a copy and the tables where the CPU lacks it), so tests cover it on
// AVX-512 CPUs.
uint32_t crc32_copy_update_clmul128(uint32_t crc, uint8_t* dst, const uint8_t* src, size_t len);

}  // namespace rfab::wire
