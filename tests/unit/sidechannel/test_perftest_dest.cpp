#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "rfab/sidechannel/perftest_dest.hpp"

namespace {
using namespace rfab::sidechannel;

PerftestDest sample() {
  PerftestDest d;
  d.lid = 0;
  d.out_reads = 16;
  d.qpn = 0x000123;
  d.psn = 0xABCDEF;
  d.rkey = 0xDEADBEEF;
  d.vaddr = 0x00007F0012345678ull;
  d.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 2};
  d.srqn = 0;
  return d;
}

TEST(PerftestDest, GidFormIsPerftestsExactBytes) {
  auto m = encode_dest_gid(sample());
  const std::string text(m.data());
  // KEY_PRINT_FMT_GID: 107 characters and the NUL, 108 bytes on the wire.
  EXPECT_EQ(text,
            "0000:0010:000123:abcdef:deadbeef:00007f0012345678:00:00:00:00:00:00:00:00:00:00:ff:ff:0a:00:00:02:"
            "00000000:");
  EXPECT_EQ(text.size() + 1, kKeyMsgSizeGid);
  std::string err;
  auto back = parse_dest(m, err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, sample());
}

TEST(PerftestDest, NoGidForm) {
  auto m = encode_dest(sample());
  EXPECT_EQ(std::string(m.data()), "0000:0010:000123:abcdef:deadbeef:00007f0012345678:00000000");
  EXPECT_EQ(std::strlen(m.data()) + 1, kKeyMsgSize);
  std::string err;
  auto back = parse_dest(m, err);
  ASSERT_TRUE(back) << err;
  PerftestDest want = sample();
  want.gid = {};
  EXPECT_EQ(*back, want);
}

TEST(PerftestDest, ErrorsNameTheField) {
  std::string err;
  auto m = encode_dest_gid(sample());
  m[10] = 'g';  // inside the QPN
  EXPECT_FALSE(parse_dest(m, err));
  EXPECT_NE(err.find("qpn"), std::string::npos) << err;
  const char short_msg[40] = "0000:0010";
  EXPECT_FALSE(parse_dest(short_msg, err));
  EXPECT_NE(err.find("40 bytes"), std::string::npos) << err;
  std::array<char, kKeyMsgSizeGid> no_nul;
  no_nul.fill('a');
  EXPECT_FALSE(parse_dest(no_nul, err));
  EXPECT_NE(err.find("NUL"), std::string::npos) << err;
  auto cut = encode_dest_gid(sample());
  cut[60] = '\0';  // message ends inside the GID
  EXPECT_FALSE(parse_dest(cut, err));
  EXPECT_NE(err.find("gid"), std::string::npos) << err;
}

}  // namespace
