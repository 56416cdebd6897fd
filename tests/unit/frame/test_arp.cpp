#include <gtest/gtest.h>

#include <vector>

#include "rfab/frame/arp.hpp"

namespace {
using namespace rfab::frame;

TEST(Arp, RequestAndReplyRoundTrip) {
  ArpPacket req;
  req.request = true;
  req.sender_mac = Mac{{2, 0, 0, 0, 0, 1}};
  req.sender_ip = {10, 0, 0, 1};
  req.target_ip = {10, 0, 0, 2};
  std::vector<uint8_t> f(kArpFrameLen);
  ASSERT_EQ(write_arp(req, f), kArpFrameLen);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(6, 0xff));  // broadcast
  auto p = parse_arp(f);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->request);
  EXPECT_EQ(p->sender_mac, req.sender_mac);
  EXPECT_EQ(p->sender_ip, req.sender_ip);
  EXPECT_EQ(p->target_ip, req.target_ip);

  ArpPacket rep;
  rep.request = false;
  rep.sender_mac = Mac{{2, 0, 0, 0, 0, 2}};
  rep.sender_ip = {10, 0, 0, 2};
  rep.target_mac = req.sender_mac;
  rep.target_ip = req.sender_ip;
  write_arp(rep, f);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(req.sender_mac.b.begin(), req.sender_mac.b.end()));
  p = parse_arp(f);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->request);
  EXPECT_EQ(p->target_mac, req.sender_mac);
}

TEST(Arp, OtherHardwareOrProtocolsAreNotArpForUs) {
  ArpPacket req;
  std::vector<uint8_t> f(kArpFrameLen);
  write_arp(req, f);
  std::vector<uint8_t> g = f;
  g[14 + 3] = 0xDD;  // protocol type 0x08DD
  EXPECT_FALSE(parse_arp(g));
  g = f;
  g[14 + 7] = 9;  // opcode 9
  EXPECT_FALSE(parse_arp(g));
  EXPECT_FALSE(parse_arp(std::span<const uint8_t>(f).first(30)));
}

TEST(Mac, ParsesAndPrints) {
  auto m = Mac::parse("02:ab:00:00:00:ff");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "02:ab:00:00:00:ff");
  EXPECT_FALSE(Mac::parse("02:ab:00:00:00"));
  EXPECT_FALSE(Mac::parse("02:ab:00:00:00:ff:11"));
}

}  // namespace
