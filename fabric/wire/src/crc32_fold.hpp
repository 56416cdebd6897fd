// Building blocks of the CRC-32 engines, shared by crc32.cpp (CRC only) and crc32_copy.cpp (CRC folded
// into a copy): the slicing table step, and the carry-less-multiply folds with their constants (Intel's
// "Fast CRC Computation Using PCLMULQDQ", bit-reflected polynomial 0xEDB88320). All work on the raw state
// (not pre- or post-inverted).
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rfab::wire::detail {

// Table-driven update (slicing-by-8, then -by-4 once, then bytes).
uint32_t raw_tables(uint32_t c, const uint8_t* p, size_t n);

// Which engine crc32_update uses: the CPU's features, narrowed by RFAB_CRC32 (=clmul: 128-bit only,
// =portable: tables only). cpu_clmul ignores RFAB_CRC32 (the entry points that test the 128-bit path).
bool use_vclmul();
bool use_clmul();
bool cpu_clmul();

#if defined(__x86_64__)
#define RFAB_CLMUL __attribute__((target("pclmul,sse4.1"), always_inline)) inline
RFAB_CLMUL __m128i load(const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); }
RFAB_CLMUL void store(uint8_t* q, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(q), v); }

// Folding distances as (x^(d+32), x^(d-32)) mod P, bit-reflected and shifted left by one.
RFAB_CLMUL __m128i k_fold64() { return _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL); }  // 4 x 128 bits
RFAB_CLMUL __m128i k_fold16() { return _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL); }  // 128 bits

// x * k (both 64-bit halves, carry-less) folded onto the next 16 bytes.
RFAB_CLMUL __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// 16-byte folds over what is left, then 128 -> 32 bits and the table tail.
RFAB_CLMUL uint32_t reduce128(__m128i x1, const uint8_t* p, size_t n) {
  const __m128i k3k4 = k_fold16();
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
  const __m128i poly_mu = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL);
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  while (n >= 16) {
    x1 = fold(x1, k3k4, load(p));
    p += 16;
    n -= 16;
  }
  // 128 -> 64 bits (appending 32 zero bits), then 64 -> 32.
  __m128i t = _mm_clmulepi64_si128(k3k4, x1, 0x01);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
  t = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), t);
  // Barrett reduction to 32 bits.
  t = x1;
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly_mu, 0x10);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly_mu, 0x00);
  x1 = _mm_xor_si128(x1, t);
  uint32_t r = static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
  return raw_tables(r, p, n);
}

// Four 128-bit lanes (64 bytes apart in the stream) folded into one.
RFAB_CLMUL __m128i fold4(__m128i x1, __m128i x2, __m128i x3, __m128i x4) {
  const __m128i k3k4 = k_fold16();
  x1 = fold(x1, k3k4, x2);
  x1 = fold(x1, k3k4, x3);
  return fold(x1, k3k4, x4);
}

// The same on 512-bit registers (VPCLMULQDQ, AVX-512): four 128-bit folds per instruction.
#define RFAB_VCLMUL __attribute__((target("avx512f,avx512vl,avx512bw,vpclmulqdq,pclmul,sse4.1")))
#define RFAB_VCLMUL_INLINE RFAB_VCLMUL __attribute__((always_inline)) inline
// (_mm512_set_epi64 rather than broadcasts/extracts: GCC 12 warns about its own intrinsics' undefined
// upper lanes.) Distance 256 bytes: four zmm lanes per round.
RFAB_VCLMUL_INLINE __m512i k512_fold256() {
  return _mm512_set_epi64(0x1322d1430LL, 0x11542778aLL, 0x1322d1430LL, 0x11542778aLL, 0x1322d1430LL,
                          0x11542778aLL, 0x1322d1430LL, 0x11542778aLL);
}
// Distance 64 bytes: one zmm onto the next.
RFAB_VCLMUL_INLINE __m512i k512_fold64() {
  return _mm512_set_epi64(0x1c6e41596LL, 0x154442bd4LL, 0x1c6e41596LL, 0x154442bd4LL, 0x1c6e41596LL,
                          0x154442bd4LL, 0x1c6e41596LL, 0x154442bd4LL);
}
RFAB_VCLMUL_INLINE __m512i fold512(__m512i x, __m512i k, __m512i next) {
  const __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}
// Four zmm (consecutive 64-byte blocks) folded into one 128-bit lane, ready for reduce128.
RFAB_VCLMUL_INLINE __m128i fold512_to_128(__m512i x0, __m512i x1, __m512i x2, __m512i x3) {
  const __m512i k64 = k512_fold64();
  x1 = fold512(x0, k64, x1);
  x2 = fold512(x1, k64, x2);
  x3 = fold512(x2, k64, x3);
  alignas(64) uint8_t lanes[64];
  _mm512_store_si512(lanes, x3);
  return fold4(load(lanes), load(lanes + 16), load(lanes + 32), load(lanes + 48));
}
#endif

}  // namespace rfab::wire::detail
