// CRC-32 folded into a copy. The loops are crc32.cpp's folding loops with a store of every loaded block
// added; the remainder after them (under 256 or 64 bytes) is copied and then CRCed from the source, which
// the loop has just brought into the cache.
#include "rfab/wire/crc32_copy.hpp"

#include <cstring>

#include "crc32_fold.hpp"
#include "rfab/wire/crc32.hpp"

namespace rfab::wire {
namespace {

#if defined(__x86_64__)
using detail::fold;
using detail::load;
using detail::reduce128;
using detail::store;

__attribute__((target("pclmul,sse4.1"))) uint32_t raw_clmul_copy(uint32_t c, uint8_t* dst, const uint8_t* src,
                                                                  size_t n) {
  // Precondition: n >= 64.
  const __m128i k1k2 = detail::k_fold64();
  __m128i x1 = load(src), x2 = load(src + 16), x3 = load(src + 32), x4 = load(src + 48);
  store(dst, x1);
  store(dst + 16, x2);
  store(dst + 32, x3);
  store(dst + 48, x4);
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128(static_cast<int>(c)));
  src += 64;
  dst += 64;
  n -= 64;
  while (n >= 64) {
    const __m128i y1 = load(src), y2 = load(src + 16), y3 = load(src + 32), y4 = load(src + 48);
    store(dst, y1);
    store(dst + 16, y2);
    store(dst + 32, y3);
    store(dst + 48, y4);
    x1 = fold(x1, k1k2, y1);
    x2 = fold(x2, k1k2, y2);
    x3 = fold(x3, k1k2, y3);
    x4 = fold(x4, k1k2, y4);
    src += 64;
    dst += 64;
    n -= 64;
  }
  std::memcpy(dst, src, n);
  return reduce128(detail::fold4(x1, x2, x3, x4), src, n);
}

RFAB_VCLMUL uint32_t raw_vclmul_copy(uint32_t c, uint8_t* dst, const uint8_t* src, size_t n) {
  // Precondition: n >= 256.
  const __m512i k256 = detail::k512_fold256();
  __m512i x0 = _mm512_loadu_si512(src), x1 = _mm512_loadu_si512(src + 64), x2 = _mm512_loadu_si512(src + 128),
          x3 = _mm512_loadu_si512(src + 192);
  _mm512_storeu_si512(dst, x0);
  _mm512_storeu_si512(dst + 64, x1);
  _mm512_storeu_si512(dst + 128, x2);
  _mm512_storeu_si512(dst + 192, x3);
  x0 = _mm512_xor_si512(x0, _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(c)));
  src += 256;
  dst += 256;
  n -= 256;
  while (n >= 256) {
    const __m512i y0 = _mm512_loadu_si512(src), y1 = _mm512_loadu_si512(src + 64),
                  y2 = _mm512_loadu_si512(src + 128), y3 = _mm512_loadu_si512(src + 192);
    _mm512_storeu_si512(dst, y0);
    _mm512_storeu_si512(dst + 64, y1);
    _mm512_storeu_si512(dst + 128, y2);
    _mm512_storeu_si512(dst + 192, y3);
    x0 = detail::fold512(x0, k256, y0);
    x1 = detail::fold512(x1, k256, y1);
    x2 = detail::fold512(x2, k256, y2);
    x3 = detail::fold512(x3, k256, y3);
    src += 256;
    dst += 256;
    n -= 256;
  }
  std::memcpy(dst, src, n);
  return reduce128(detail::fold512_to_128(x0, x1, x2, x3), src, n);
}
#endif

// No folding engine (or a short buffer, where the setup of one costs more than a second pass over bytes
// that are in the cache anyway): copy, then the ordinary CRC.
uint32_t copy_then_crc(uint32_t crc, uint8_t* dst, const uint8_t* src, size_t len) {
  if (len > 0) std::memcpy(dst, src, len);
  return crc32_update(crc, src, len);
}

}  // namespace

uint32_t crc32_copy_update(uint32_t crc, uint8_t* dst, const uint8_t* src, size_t len) {
#if defined(__x86_64__)
  if (detail::use_vclmul() && len >= 256) return ~raw_vclmul_copy(~crc, dst, src, len);
  if (detail::use_clmul() && len >= 64) return ~raw_clmul_copy(~crc, dst, src, len);
#endif
  return copy_then_crc(crc, dst, src, len);
}

uint32_t crc32_copy_update_clmul128(uint32_t crc, uint8_t* dst, const uint8_t* src, size_t len) {
#if defined(__x86_64__)
  if (detail::cpu_clmul() && len >= 64) return ~raw_clmul_copy(~crc, dst, src, len);
#endif
  if (len > 0) std::memcpy(dst, src, len);
  return crc32_update_clmul128(crc, src, len);
}

}  // namespace rfab::wire
