#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <vector>

#include "rfab/wire/crc32.hpp"

using rfab::wire::crc32_update;
using rfab::wire::crc32_update_portable;

TEST(Crc32, MatchesZlibOnEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(9000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t len : {0, 1, 3, 7, 8, 15, 16, 17, 20, 28, 31, 32, 40, 44, 47, 48, 52, 60, 63, 64, 65, 79, 80, 127,
                     128, 129, 255, 256, 257, 271, 320,
                     511, 512, 513, 1000, 1024, 4095, 4096, 4097, 4112, 8191}) {
    for (size_t off = 0; off < 8; ++off) {
      uint32_t want = static_cast<uint32_t>(::crc32(0, buf.data() + off, static_cast<uInt>(len)));
      EXPECT_EQ(crc32_update(0, buf.data() + off, len), want) << "len " << len << " off " << off;
      EXPECT_EQ(crc32_update_portable(0, buf.data() + off, len), want) << "len " << len << " off " << off;
      EXPECT_EQ(rfab::wire::crc32_update_clmul128(0, buf.data() + off, len), want) << "len " << len << " off " << off;
    }
  }
}

TEST(Crc32, ContinuationEqualsOneShot) {
  std::vector<uint8_t> buf(5000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 31 + 7);
  const uint32_t whole = crc32_update(0, buf.data(), buf.size());
  for (size_t cut : {1, 48, 64, 100, 2048, 4999}) {
    uint32_t c = crc32_update(0, buf.data(), cut);
    EXPECT_EQ(crc32_update(c, buf.data() + cut, buf.size() - cut), whole) << "cut " << cut;
  }
}

TEST(Crc32, StandardCheckValue) {
  const char* s = "123456789";  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(crc32_update(0, reinterpret_cast<const uint8_t*>(s), 9), 0xCBF43926u);
}
