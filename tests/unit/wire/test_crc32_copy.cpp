#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <vector>

#include "rfab/wire/crc32.hpp"
#include "rfab/wire/crc32_copy.hpp"

using rfab::wire::crc32_copy_update;
using rfab::wire::crc32_copy_update_clmul128;

namespace {

// One case: `len` bytes at source offset `soff` to destination offset `doff`, continuing `seed`. Checks the
// CRC against zlib, the copied bytes, and that the bytes around the destination range stay untouched.
template <typename Fn>
void check(Fn fused, const std::vector<uint8_t>& src, size_t soff, size_t doff, size_t len, uint32_t seed) {
  std::vector<uint8_t> dst(len + doff + 64, 0xA5);
  const uint32_t want = static_cast<uint32_t>(::crc32(seed, src.data() + soff, static_cast<uInt>(len)));
  ASSERT_EQ(fused(seed, dst.data() + doff, src.data() + soff, len), want)
      << "len " << len << " src+" << soff << " dst+" << doff;
  ASSERT_TRUE(std::equal(src.begin() + static_cast<long>(soff), src.begin() + static_cast<long>(soff + len),
                         dst.begin() + static_cast<long>(doff)))
      << "copy differs, len " << len;
  for (size_t i = 0; i < doff; ++i) ASSERT_EQ(dst[i], 0xA5) << "wrote before the destination, len " << len;
  for (size_t i = doff + len; i < dst.size(); ++i) ASSERT_EQ(dst[i], 0xA5) << "wrote past the end, len " << len;
}

}  // namespace

TEST(Crc32Copy, EqualsCopyPlusZlibOnRandomLengthsAndAlignments) {
  std::mt19937 rng(11);
  std::vector<uint8_t> src(9000 + 64);
  for (auto& b : src) b = static_cast<uint8_t>(rng());
  std::uniform_int_distribution<size_t> len_d(0, 9000), off_d(0, 63);
  for (int i = 0; i < 2000; ++i) {
    const size_t len = len_d(rng), soff = off_d(rng), doff = off_d(rng);
    const auto seed = static_cast<uint32_t>(rng());
    check(crc32_copy_update, src, soff, doff, len, seed);
    check(crc32_copy_update_clmul128, src, soff, doff, len, seed);
  }
}

TEST(Crc32Copy, EveryLengthAroundTheBlockSizes) {
  std::vector<uint8_t> src(9000 + 64);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + 17);
  for (size_t len = 0; len <= 600; ++len)
    for (size_t off : {0, 1, 7, 33}) {
      check(crc32_copy_update, src, off, 64 - off, len, 0);
      check(crc32_copy_update_clmul128, src, off, off, len, 0xFFFFFFFFu);
    }
  for (size_t len : {4095, 4096, 4097, 4112, 8191, 8192, 8193, 9000})
    for (size_t off : {0, 5, 16, 63}) {
      check(crc32_copy_update, src, off, off, len, 0x12345678u);
      check(crc32_copy_update_clmul128, src, off, 3, len, 0x12345678u);
    }
}

TEST(Crc32Copy, ContinuesLikeCrc32Update) {
  // A payload's CRC continues a header's: fused and separate give the same ICRC state.
  std::vector<uint8_t> buf(5000), dst(5000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 29 + 3);
  const uint32_t head = rfab::wire::crc32_update(0, buf.data(), 40);
  EXPECT_EQ(crc32_copy_update(head, dst.data(), buf.data() + 40, 4096),
            rfab::wire::crc32_update(0, buf.data(), 40 + 4096));
}
