#include "rfab/udp/ipv4_id_solver.hpp"

#include <zlib.h>

namespace rfab::udp {
namespace {

// GF(2)[x] mod P in zlib's representation (bit 31 = x^0, bit 0 = x^31). zlib's crc32_combine_op(a, 0, b)
// is exactly its internal multmodp(b, a); reusing it keeps one CRC implementation in the tree.
uint32_t mulmod(uint32_t a, uint32_t b) {
  return static_cast<uint32_t>(crc32_combine_op(a, 0, b));
}

constexpr uint32_t kOne = 0x80000000u;  // x^0
// x^-1 = (P(x) + 1) / x: P's coefficients x^1..x^31 moved down by one, plus x^31 (from P's x^32 term).
constexpr uint32_t kXInverse = (0xEDB88320u << 1) | 1u;

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
