#include <gtest/gtest.h>

#include "rfab/udp/address.hpp"
#include "rfab/udp/error.hpp"

namespace {
using rfab::udp::Address;

TEST(Address, ParsesV4AndV6AndRejectsNames) {
  auto a = Address::parse("192.168.7.9", 4791);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->to_string(), "192.168.7.9:4791");
  auto b = Address::parse("[fd00::5]", 1);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->v6);
  EXPECT_EQ(b->to_string(), "[fd00::5]:1");
  EXPECT_FALSE(Address::parse("host.example"));
  EXPECT_FALSE(Address::parse("1.2.3"));
  EXPECT_THROW(Address::parse_or_throw("nope", 0, "--local"), rfab::udp::UdpError);
}

TEST(Address, GidRoundTripUsesIpv4MappedForm) {
  auto a = *Address::parse("10.0.0.1", 7);
  auto g = a.gid();
  EXPECT_EQ(g[10], 0xFF);
  EXPECT_EQ(g[11], 0xFF);
  EXPECT_EQ(g[12], 10);
  EXPECT_EQ(g[15], 1);
  EXPECT_EQ(Address::from_gid(g, 7), a);
  auto b = *Address::parse("fe80::1:2", 9);
  EXPECT_EQ(Address::from_gid(b.gid(), 9), b);
}

TEST(Address, SockaddrRoundTrip) {
  for (const char* s : {"127.0.0.1", "::1"}) {
    auto a = *Address::parse(s, 4791);
    sockaddr_storage ss;
    a.to_sockaddr(ss);
    EXPECT_EQ(Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)), a);
  }
}

}  // namespace
