// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), zlib-compatible: crc32_update(0, p, n) equals
// zlib's crc32(0, p, n). Uses carry-less multiplication folding when the CPU has it: VPCLMULQDQ on 512-bit
// registers (AVX-512) for buffers of 256 bytes and more, else PCLMULQDQ on 128-bit ones. The environment
// variable RFAB_CRC32=clmul (128-bit only) or =portable (tables only) narrows the choice, for benchmarks.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rfab::wire {

// Continue a zlib-convention CRC (pre- and post-inverted) over more bytes.
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t len);

// Same, portable table-driven code only (the reference the fast path is tested against).
uint32_t crc32_update_portable(uint32_t crc, const uint8_t* data, size_t len);

// True when the carry-less-multiply path is in use on this CPU.
bool crc32_has_clmul();
// True when the 512-bit VPCLMULQDQ path is in use.
bool crc32_has_vclmul();

// The 128-bit PCLMULQDQ path alone (tables where the CPU lacks it), so tests cover it on AVX-512 CPUs.
uint32_t crc32_update_clmul128(uint32_t crc, const uint8_t* data, size_t len);

}  // namespace rfab::wire
