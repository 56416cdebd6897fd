// CRC-32 with two engines: slicing-by-8 tables (portable, short buffers, tails) and PCLMULQDQ folding of
// four 128-bit lanes (the method of Intel's "Fast CRC Computation Using PCLMULQDQ" white paper, also used
// by Linux's crc32-pclmul) for buffers of 64 bytes and more.
#include "rfab/wire/crc32.hpp"

#include <array>
#include <cstdlib>
#include <cstring>

#include "rfab/base/env.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rfab::wire {
namespace {

constexpr uint32_t kPoly = 0xEDB88320u;

struct Tables {
  uint32_t t[8][256];
};

constexpr Tables make_tables() {
  Tables tb{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    tb.t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s) tb.t[s][i] = (tb.t[s - 1][i] >> 8) ^ tb.t[0][tb.t[s - 1][i] & 0xFF];
  return tb;
}
constexpr Tables kTables = make_tables();

// Raw (non-inverted) CRC state update.
uint32_t raw_tables(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
        t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  if (n >= 4) {  // slicing-by-4 once: the 12-byte BTH and 4-byte ends take two steps, not five
    const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    c = t[3][lo & 0xFF] ^ t[2][(lo >> 8) & 0xFF] ^ t[1][(lo >> 16) & 0xFF] ^ t[0][lo >> 24];
    p += 4;
    n -= 4;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
#define RFAB_CLMUL __attribute__((target("pclmul,sse4.1"), always_inline)) inline
RFAB_CLMUL __m128i load(const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); }
// x * k (both 64-bit halves, carry-less) folded onto the next 16 bytes.
RFAB_CLMUL __m128i fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// 16-byte folds over what is left, then 128 -> 32 bits and the table tail.
RFAB_CLMUL uint32_t reduce128(__m128i x1, const uint8_t* p, size_t n) {
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
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

// 16..63 bytes: the first 16-byte block folded over the rest. These are the headers an ICRC starts with
// (40 bytes for IPv4 + UDP + BTH, 60 for IPv6) and the short RoCE headers after the BTH; the tables cost
// more per byte there than the folds (6% of a 16 MiB RoCE allreduce profile was table code).
__attribute__((target("pclmul,sse4.1"))) uint32_t raw_clmul_short(uint32_t c, const uint8_t* p, size_t n) {
  const __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(c)));
  return reduce128(x1, p + 16, n - 16);
}

// Folding constants for the bit-reflected polynomial: x^(4*128+32) mod P etc., as in the white paper.
__attribute__((target("pclmul,sse4.1"))) uint32_t raw_clmul(uint32_t c, const uint8_t* p, size_t n) {
  // Precondition: n >= 64. Consumes a multiple of 16 bytes; the tail goes to the tables.
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);

  __m128i x1 = load(p), x2 = load(p + 16), x3 = load(p + 32), x4 = load(p + 48);
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128(static_cast<int>(c)));
  p += 64;
  n -= 64;
  while (n >= 64) {
    x1 = fold(x1, k1k2, load(p));
    x2 = fold(x2, k1k2, load(p + 16));
    x3 = fold(x3, k1k2, load(p + 32));
    x4 = fold(x4, k1k2, load(p + 48));
    p += 64;
    n -= 64;
  }
  x1 = fold(x1, k3k4, x2);
  x1 = fold(x1, k3k4, x3);
  x1 = fold(x1, k3k4, x4);
  return reduce128(x1, p, n);
}

// The same folding with VPCLMULQDQ on 512-bit registers (AVX-512): four zmm lanes of 64 bytes each, folded
// forward by 256 bytes per round (constants x^(2048+32) and x^(2048-32) mod P, bit-reflected, << 1); then
// the four zmm are folded into one (512-bit distance: the k1k2 above), its four 128-bit lanes into one, and
// reduce128 finishes. About 4x the bytes per cycle of the 128-bit loop on CPUs that have it.
#define RFAB_VCLMUL __attribute__((target("avx512f,avx512vl,avx512bw,vpclmulqdq,pclmul,sse4.1")))
RFAB_VCLMUL __attribute__((always_inline)) inline __m512i fold512(__m512i x, __m512i k, __m512i next) {
  const __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}

RFAB_VCLMUL uint32_t raw_vclmul(uint32_t c, const uint8_t* p, size_t n) {
  // Precondition: n >= 256.
  // (_mm512_set_epi64 rather than broadcasts/extracts: GCC 12 warns about its own intrinsics' undefined
  // upper lanes.)
  const __m512i k256 = _mm512_set_epi64(0x1322d1430LL, 0x11542778aLL, 0x1322d1430LL, 0x11542778aLL,
                                        0x1322d1430LL, 0x11542778aLL, 0x1322d1430LL, 0x11542778aLL);
  const __m512i k64 = _mm512_set_epi64(0x1c6e41596LL, 0x154442bd4LL, 0x1c6e41596LL, 0x154442bd4LL,
                                       0x1c6e41596LL, 0x154442bd4LL, 0x1c6e41596LL, 0x154442bd4LL);
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
  __m512i x0 = _mm512_loadu_si512(p), x1 = _mm512_loadu_si512(p + 64), x2 = _mm512_loadu_si512(p + 128),
          x3 = _mm512_loadu_si512(p + 192);
  x0 = _mm512_xor_si512(x0, _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(c)));
  p += 256;
  n -= 256;
  while (n >= 256) {
    x0 = fold512(x0, k256, _mm512_loadu_si512(p));
    x1 = fold512(x1, k256, _mm512_loadu_si512(p + 64));
    x2 = fold512(x2, k256, _mm512_loadu_si512(p + 128));
    x3 = fold512(x3, k256, _mm512_loadu_si512(p + 192));
    p += 256;
    n -= 256;
  }
  x1 = fold512(x0, k64, x1);
  x2 = fold512(x1, k64, x2);
  x3 = fold512(x2, k64, x3);
  alignas(64) uint8_t lanes[64];
  _mm512_store_si512(lanes, x3);
  __m128i a = load(lanes);
  a = fold(a, k3k4, load(lanes + 16));
  a = fold(a, k3k4, load(lanes + 32));
  a = fold(a, k3k4, load(lanes + 48));
  return reduce128(a, p, n);
}

bool detect_vclmul() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("vpclmulqdq") &&
         __builtin_cpu_supports("pclmul");
}
// RFAB_CRC32=clmul or =portable turns the faster paths off (benchmarks, tests).
const char* crc_env() {
  const char* e = env::raw("RFAB_CRC32");
  return e == nullptr ? "" : e;
}
const bool kHasVclmul = detect_vclmul() && std::strcmp(crc_env(), "clmul") != 0 && std::strcmp(crc_env(), "portable") != 0;

bool detect_clmul() { return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"); }
const bool kCpuClmul = detect_clmul();
const bool kHasClmul = kCpuClmul && std::strcmp(crc_env(), "portable") != 0;
#else
const bool kHasClmul = false;
const bool kHasVclmul = false;
const bool kCpuClmul = false;
#endif

}  // namespace

uint32_t crc32_update_portable(uint32_t crc, const uint8_t* data, size_t len) {
  return ~raw_tables(~crc, data, len);
}

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t len) {
#if defined(__x86_64__)
  if (kHasVclmul && len >= 256) return ~raw_vclmul(~crc, data, len);
  if (kHasClmul && len >= 64) return ~raw_clmul(~crc, data, len);
  if (kHasClmul && len >= 16) return ~raw_clmul_short(~crc, data, len);
#endif
  return ~raw_tables(~crc, data, len);
}

bool crc32_has_clmul() { return kHasClmul; }
bool crc32_has_vclmul() { return kHasVclmul; }

uint32_t crc32_update_clmul128(uint32_t crc, const uint8_t* data, size_t len) {
#if defined(__x86_64__)
  if (kCpuClmul && len >= 64) return ~raw_clmul(~crc, data, len);
  if (kCpuClmul && len >= 16) return ~raw_clmul_short(~crc, data, len);
#endif
  return ~raw_tables(~crc, data, len);
}

}  // namespace rfab::wire
