#include "rfab/udp/ipv4_id_solver.hpp"

#include <zlib.h>

#include <array>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rfab::udp {
namespace {

constexpr uint32_t kOne = 0x80000000u;  // x^0
// x^-1 = (P(x) + 1) / x: P's coefficients x^1..x^31 moved down by one, plus x^31 (from P's x^32 term).
constexpr uint32_t kXInverse = (0xEDB88320u << 1) | 1u;

// Slicing-by-4 tables of the reflected CRC-32 register: feeding four zero bytes into a register holding r
// gives r * x^32 mod P, i.e. t[3][r & 0xFF] ^ t[2][(r >> 8) & 0xFF] ^ t[1][(r >> 16) & 0xFF] ^ t[0][r >> 24].
using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;
constexpr ShiftTables make_shift_tables() {
  ShiftTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t s = 1; s < 4; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}
constexpr ShiftTables kShift = make_shift_tables();

uint32_t times_x32(uint32_t r) {
  return kShift[3][r & 0xFF] ^ kShift[2][(r >> 8) & 0xFF] ^ kShift[1][(r >> 16) & 0xFF] ^ kShift[0][r >> 24];
}

#if defined(__x86_64__)
__attribute__((target("pclmul"))) uint32_t multiply_clmul(uint32_t a, uint32_t b) {
  // In the reflected order bit i of a 32-bit word is x^(31-i), so bit m of the 63-bit carry-less product
  // is x^(62-m); shifted left by one, the high word is the product's x^31..x^0 part and the low word its
  // x^63..x^32 part, which four zero bytes of CRC register reduce mod P.
  const __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                         _mm_cvtsi32_si128(static_cast<int>(b)), 0x00);
  const uint64_t q = static_cast<uint64_t>(_mm_cvtsi128_si64(p)) << 1;
  return static_cast<uint32_t>(q >> 32) ^ times_x32(static_cast<uint32_t>(q));
}
const bool kHasClmul = __builtin_cpu_supports("pclmul");
#endif

uint32_t mulmod(uint32_t a, uint32_t b) {
#if defined(__x86_64__)
  if (kHasClmul) return multiply_clmul(a, b);
#endif
  return Ipv4IdSolver::multiply_portable(a, b);
}

uint32_t power(uint32_t base, uint64_t e) {
  uint32_t r = kOne;
  while (e) {
    if (e & 1) r = mulmod(r, base);
    base = mulmod(base, base);
    e >>= 1;
  }
  return r;
}

}  // namespace

uint32_t Ipv4IdSolver::multiply_portable(uint32_t a, uint32_t b) {
  // GF(2)[x] mod P in zlib's representation (bit 31 = x^0, bit 0 = x^31). zlib's crc32_combine_op(a, 0, b)
  // is exactly its internal multmodp(b, a): a bit-serial reference, 32 steps. multmodp never ends for a
  // zero first operand, hence the guard.
  if (a == 0 || b == 0) return 0;
  return static_cast<uint32_t>(crc32_combine_op(a, 0, b));
}

uint32_t Ipv4IdSolver::multiply(uint32_t a, uint32_t b) { return mulmod(a, b); }

uint32_t Ipv4IdSolver::inverse_shift(size_t tail) {
  // (x^-8)^(tail + 4) = x^-(8*tail + 32): the tail's bytes plus the 32-bit shift every CRC register applies.
  static const uint32_t x_inv8 = power(kXInverse, 8);
  constexpr size_t kMaxCached = 1u << 17;  // > any UDP datagram; longer tails are just not cached
  if (tail >= kMaxCached) return power(x_inv8, tail + 4);
  if (tail >= cache_.size()) cache_.resize(tail + 1, 0);
  uint32_t& slot = cache_[tail];
  if (slot == 0) slot = power(x_inv8, tail + 4);
  return slot;
}

std::optional<uint16_t> Ipv4IdSolver::solve(uint32_t syndrome, size_t tail) {
  const uint32_t id_poly = mulmod(syndrome, inverse_shift(tail));
  // Degree < 16 means the low 16 bits (x^16..x^31) are zero. Bits 16..31 hold x^15..x^0, i.e. the 16 ID bits
  // in transmission order: bit 16+p is the p-th bit on the wire, bytes big-endian, each byte LSB first.
  if (id_poly & 0xFFFFu) return std::nullopt;
  const uint32_t wire_bits = id_poly >> 16;  // bits 0..7 = first (high) ID byte, 8..15 = second (low)
  return static_cast<uint16_t>(((wire_bits & 0xFFu) << 8) | (wire_bits >> 8));
}

}  // namespace rfab::udp
