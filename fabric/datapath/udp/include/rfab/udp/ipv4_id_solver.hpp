// Recovers the IPv4 Identification of a received RoCE v2 packet from its ICRC.
//
// A UDP socket never shows the receiver the IPv4 header, but the ICRC covers the 16-bit ID. CRC-32 is affine
// over GF(2): for two inputs of equal length that differ only in the ID bytes,
//     ICRC(id) XOR ICRC(0) = id(x) * x^(8*tail + 32)  mod P
// where id(x) is the polynomial of the two ID bytes in transmission order (degree < 16), `tail` the number of
// bytes the CRC covers after the ID, and P the CRC-32 polynomial. x is invertible mod P (P(0) = 1), so the
// syndrome S = ICRC(0) XOR stored can be "un-shifted": S * x^-(8*tail + 32) mod P has degree < 16 exactly
// when some ID explains the stored ICRC, and then it *is* that ID. One multiplication per packet (a carry-less
// multiply and four table look-ups where the CPU has PCLMULQDQ); the inverse power per length is computed
// once (square-and-multiply) and cached.
//
// Checking strength: any stored ICRC is explained by some ID with probability 2^16 / 2^32, so a corrupted
// IPv4 packet is accepted with probability 2^-16 (plus any restriction the caller adds on the ID).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace rfab::udp {

class Ipv4IdSolver {
 public:
  // `syndrome`: ICRC computed with ID 0, XOR the ICRC the packet carries (both as stored on the wire, which
  // is zlib's bit order). `tail`: bytes covered by the ICRC after the ID (14 + 8 + BTH..pad for IPv4).
  // Returns the ID that makes the packet's ICRC correct, or nullopt when none does.
  std::optional<uint16_t> solve(uint32_t syndrome, size_t tail);

  // a(x) * b(x) mod P in that reflected order (bit 31 = x^0): the fastest engine the CPU has, and the
  // bit-serial reference it must agree with.
  static uint32_t multiply(uint32_t a, uint32_t b);
  static uint32_t multiply_portable(uint32_t a, uint32_t b);

 private:
  uint32_t inverse_shift(size_t tail);  // x^-(8*tail + 32) mod P, cached per tail
  std::vector<uint32_t> cache_;         // indexed by tail; 0 = not computed (a power of x is never 0)
};

}  // namespace rfab::udp
