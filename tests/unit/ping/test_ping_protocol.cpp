// The side-channel messages round-trip, and a peer's malformed or lying message is refused by name.
#include <gtest/gtest.h>

#include "ping_protocol.hpp"

namespace {
using namespace rfab::cli::ping;

TEST(Protocol, MessagesRoundTrip) {
  const ConnectRequest req{2, "10.0.0.3:4791", {{5, 100}, {6, 0xFFFFFF}}};
  const ConnectRequest r2 = decode_connect(encode(req), 4);
  EXPECT_EQ(op_of(encode(req)), "connect");
  EXPECT_EQ(r2.from, 2u);
  EXPECT_EQ(r2.qps[1].psn, 0xFFFFFFu);
  ConnectReply rep;
  rep.ok = true;
  rep.roce = "[fd00::1]:4791";
  rep.qps = {{9, 1}, {10, 2}};
  rep.rkey = 77;
  rep.addr = 1ull << 40;
  const ConnectReply p2 = decode_reply(encode(rep), 2);
  EXPECT_EQ(p2.addr, 1ull << 40);
  EXPECT_EQ(parse_roce_address(p2.roce)->to_string(), "[fd00::1]:4791");
  EXPECT_EQ(parse_roce_address("10.1.2.3:5")->to_string(), "10.1.2.3:5");
  PairResult pr;
  pr.src = 1;
  pr.dst = 0;
  pr.reached = true;
  pr.entropies = {{49152, 20, 3, 2, 1, 0, {17, 10.5, 20, 30}}};
  const Report back = decode_report(encode(Report{1, {pr}}), 3);
  ASSERT_EQ(back.pairs.size(), 1u);
  EXPECT_EQ(back.pairs[0].entropies[0].lost, 3u);
  EXPECT_EQ(back.pairs[0].entropies[0].resent, 2u);
  EXPECT_EQ(back.pairs[0].entropies[0].late, 1u);
  EXPECT_EQ(back.pairs[0].entropies[0].rtt.p50_us, 10.5);
}

TEST(Protocol, UntrustedMessagesAreRefused) {
  EXPECT_THROW(op_of("not json"), std::invalid_argument);
  EXPECT_THROW(decode_connect(R"({"op":"connect","from":9,"roce":"x","qps":[{"qpn":1,"psn":1}]})", 4), std::invalid_argument);
  EXPECT_THROW(decode_connect(R"({"op":"connect","from":0,"roce":"x","qps":[]})", 4), std::invalid_argument);
  EXPECT_THROW(decode_connect(R"({"op":"connect","from":0,"roce":"x","qps":[{"qpn":0,"psn":1}]})", 4), std::invalid_argument);
  EXPECT_THROW(decode_connect(R"({"op":"connect","from":0,"roce":"x","qps":[{"qpn":1,"psn":16777216}]})", 4), std::invalid_argument);
  EXPECT_THROW(decode_connect(R"({"op":"connect","from":"a"})", 4), std::invalid_argument);
  EXPECT_THROW(decode_reply(R"({"ok":true,"error":"","roce":"a:1","qps":[{"qpn":1,"psn":1}],"rkey":1,"addr":1})", 2), std::invalid_argument);
  // A report may only carry its sender's own pairs, of hosts that exist, with no more lost than sent.
  PairResult pr;
  pr.src = 0;
  pr.dst = 1;
  EXPECT_THROW(decode_report(encode(Report{1, {pr}}), 3), std::invalid_argument);
  pr.src = 1;
  pr.dst = 5;
  EXPECT_THROW(decode_report(encode(Report{1, {pr}}), 3), std::invalid_argument);
  pr.dst = 0;
  pr.entropies = {{1, 2, 3, 3, 0, 0, {}}};
  EXPECT_THROW(decode_report(encode(Report{1, {pr}}), 3), std::invalid_argument);
  pr.entropies = {{1, 5, 3, 1, 1, 0, {}}};  // reasons that do not add up to the loss
  EXPECT_THROW(decode_report(encode(Report{1, {pr}}), 3), std::invalid_argument);
  pr.entropies = {{1, 5, 3, 1, 1, 1, {}}};
  EXPECT_NO_THROW(decode_report(encode(Report{1, {pr}}), 3));
  for (const char* bad : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:70000", "[::1]4791", "x:1"})
    EXPECT_FALSE(parse_roce_address(bad).has_value()) << bad;
}

}  // namespace
