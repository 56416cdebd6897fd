// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), zlib-compatible: crc32_update(0, p, n) equals
// zlib's crc32(0, p, n). Uses carry-less multiplication folding (PCLMULQDQ) when the CPU has it.
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

}  // namespace rfab::wire
