// CRC-32 with two engines: slicing-by-8 tables (portable, short buffers, tails) and PCLMULQDQ folding of
// four 128-bit lanes (the method of Intel's "Fast CRC Computation Using PCLMULQDQ" white paper, also used
// by Linux's crc32-pclmul) for buffers of 64 bytes and more.
#include "rfab/wire/crc32.hpp"

#include <array>
#include <cstdlib>
#include <cstring>

#include "crc32_fold.hpp"
#include "rfab/base/env.hpp"

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

}  // namespace

uint32_t detail::raw_tables(uint32_t c, const uint8_t* p, size_t n) {
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

namespace {
using detail::raw_tables;

#if defined(__x86_64__)
using detail::fold;
using detail::load;
using detail::reduce128;

// 16..63 bytes: the first 16-byte block folded over the rest. These are the headers an ICRC starts with
// (40 bytes for IPv4 + UDP + BTH, 60 for IPv6) and the short RoCE headers after the BTH; the tables cost
// more per byte there than the folds (6% of a 16 MiB RoCE allreduce profile was table code).
__attribute__((target("pclmul,sse4.1"))) uint32_t raw_clmul_short(uint32_t c, const uint8_t* p, size_t n) {
  const __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(c)));
  return reduce128(x1, p + 16, n - 16);
}

// Four 128-bit lanes folded forward by 64 bytes per round.
__attribute__((target("pclmul,sse4.1"))) uint32_t raw_clmul(uint32_t c, const uint8_t* p, size_t n) {
  // Precondition: n >= 64. Consumes a multiple of 16 bytes; the tail goes to the tables.
  const __m128i k1k2 = detail::k_fold64();
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
  return reduce128(detail::fold4(x1, x2, x3, x4), p, n);
}

// The same folding with VPCLMULQDQ on 512-bit registers (AVX-512): four zmm lanes of 64 bytes each, folded
// forward by 256 bytes per round; then the four zmm are folded into one 128-bit lane and reduce128
// finishes. About 4x the bytes per cycle of the 128-bit loop on CPUs that have it.
RFAB_VCLMUL uint32_t raw_vclmul(uint32_t c, const uint8_t* p, size_t n) {
  // Precondition: n >= 256.
  const __m512i k256 = detail::k512_fold256();
  __m512i x0 = _mm512_loadu_si512(p), x1 = _mm512_loadu_si512(p + 64), x2 = _mm512_loadu_si512(p + 128),
          x3 = _mm512_loadu_si512(p + 192);
  x0 = _mm512_xor_si512(x0, _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(c)));
  p += 256;
  n -= 256;
  while (n >= 256) {
    x0 = detail::fold512(x0, k256, _mm512_loadu_si512(p));
    x1 = detail::fold512(x1, k256, _mm512_loadu_si512(p + 64));
    x2 = detail::fold512(x2, k256, _mm512_loadu_si512(p + 128));
    x3 = detail::fold512(x3, k256, _mm512_loadu_si512(p + 192));
    p += 256;
    n -= 256;
  }
  return reduce128(detail::fold512_to_128(x0, x1, x2, x3), p, n);
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

bool detail::use_vclmul() { return kHasVclmul; }
bool detail::use_clmul() { return kHasClmul; }
bool detail::cpu_clmul() { return kCpuClmul; }

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
