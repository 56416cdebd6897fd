// Landings (collectives/src/roce_landing.hpp): the descriptor's wire form and the sender's routing of its
// writes between the receive ring and the receiver's buffers.
#include <gtest/gtest.h>

#include <array>

#include "roce_landing.hpp"

namespace roce = rfab::coll::roce;
using roce::LandingDesc;
using roce::LandingRoutes;

TEST(RoceLanding, DescriptorRoundTripsAndRejectsGarbage) {
  const LandingDesc d{0x1234567890ull, 0x1234567890ull + (8u << 20), 0x7f00deadbe00ull, 0xabcdef01u};
  std::array<std::byte, roce::kLandingBytes> b{};
  roce::encode_landing(d, b.data());
  EXPECT_EQ(b[0], std::byte{0x90});  // little-endian on the wire
  auto back = roce::decode_landing(b.data(), b.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->begin, d.begin);
  EXPECT_EQ(back->end, d.end);
  EXPECT_EQ(back->va, d.va);
  EXPECT_EQ(back->rkey, d.rkey);

  EXPECT_FALSE(roce::decode_landing(b.data(), b.size() - 1)) << "short payload";
  auto bad = b;
  bad[31] = std::byte{1};
  EXPECT_FALSE(roce::decode_landing(bad.data(), bad.size())) << "reserved bytes set";
  auto encode = [](LandingDesc x) {
    std::array<std::byte, roce::kLandingBytes> out{};
    roce::encode_landing(x, out.data());
    return out;
  };
  auto empty = encode({100, 100, 4096, 1});
  EXPECT_FALSE(roce::decode_landing(empty.data(), empty.size())) << "empty range";
  auto huge = encode({0, roce::kMaxLandingBytes + 1, 4096, 1});
  EXPECT_FALSE(roce::decode_landing(huge.data(), huge.size())) << "over 2^40 bytes";
  auto wraps = encode({0, 8192, ~uint64_t{0} - 4095, 1});
  EXPECT_FALSE(roce::decode_landing(wraps.data(), wraps.size())) << "buffer past the end of the address space";
}

TEST(RoceLanding, WritesStopAtALandingsEdgesAndGoWholeIntoIt) {
  LandingRoutes r;
  ASSERT_TRUE(r.push({1000, 5000, 0x10000, 7}));
  // Before the landing: ring, cut at its begin.
  auto a = r.route(0, 4096);
  EXPECT_EQ(a.len, 1000u);
  EXPECT_EQ(a.land, nullptr);
  // From its first byte: into it, never past its end.
  auto b = r.route(1000, 8192);
  EXPECT_EQ(b.len, 4000u);
  ASSERT_NE(b.land, nullptr);
  EXPECT_EQ(b.land->va, 0x10000u);
  auto c = r.route(3000, 1000);
  EXPECT_EQ(c.len, 1000u);
  EXPECT_NE(c.land, nullptr);
  // Finished: gone, the next bytes go to the ring.
  auto d = r.route(5000, 100);
  EXPECT_EQ(d.land, nullptr);
  EXPECT_EQ(d.len, 100u);
  EXPECT_EQ(r.size(), 0u);
}

TEST(RoceLanding, ALandingTheStreamPassedBeforeItCameGoesToTheRing) {
  LandingRoutes r;
  ASSERT_TRUE(r.push({1000, 5000, 0x10000, 7}));
  ASSERT_TRUE(r.push({5056, 9000, 0x20000, 8}));
  // The sender had written up to 1500 when the first descriptor arrived: that message stays in the ring.
  auto a = r.route(1500, 8192);
  EXPECT_EQ(a.land, nullptr);
  EXPECT_EQ(a.len, 5056u - 1500u) << "cut at the next landing's begin";
  EXPECT_EQ(r.size(), 1u);
  auto b = r.route(5056, 8192);
  ASSERT_NE(b.land, nullptr);
  EXPECT_EQ(b.land->rkey, 8u);
  EXPECT_EQ(b.len, 9000u - 5056u);
}

TEST(RoceLanding, DescriptorsOutOfOrderOrBeyondCapacityAreRefused) {
  LandingRoutes r;
  ASSERT_TRUE(r.push({1000, 5000, 0x10000, 7}));
  EXPECT_FALSE(r.push({4000, 6000, 0x20000, 8})) << "overlaps the previous one";
  uint64_t at = 5000;
  for (size_t i = 1; i < LandingRoutes::kCapacity; ++i, at += 100) ASSERT_TRUE(r.push({at, at + 100, 0x30000, 9}));
  EXPECT_FALSE(r.push({at, at + 100, 0x30000, 9})) << "more than the capacity outstanding";
}
