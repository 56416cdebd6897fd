// The rendezvous store's protocol without sockets: frames parsed strictly and bounded, a client of another
// job refused, ADD of garbage or past 64 bits refused, and a rank slot claimed only once over real sockets.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "rendezvous.hpp"
#include "rfab/collectives/store.hpp"
#include "rfab/collectives/types.hpp"
#include "store_protocol.hpp"

namespace {
using namespace rfab::coll;
using namespace rfab::coll::store_proto;
using namespace std::chrono_literals;

std::string frame(uint8_t cmd, const std::string& key, const std::string& value) {
  std::string f(1, static_cast<char>(cmd));
  const auto k = static_cast<uint32_t>(key.size()), v = static_cast<uint32_t>(value.size());
  f.append(reinterpret_cast<const char*>(&k), 4);
  f += key;
  f.append(reinterpret_cast<const char*>(&v), 4);
  f += value;
  return f;
}

TEST(StoreProtocol, FramesAreBoundedAndCommandsKnown) {
  Request r;
  EXPECT_EQ(parse_request(frame(kSet, "k", "v").substr(0, 7), r), 0u);  // incomplete
  EXPECT_EQ(parse_request(frame(kSet, "k", "v"), r), 11u);
  EXPECT_EQ(r.key, "k");
  EXPECT_THROW(parse_request(std::string(1, '\x09') + std::string(8, '\0'), r), std::runtime_error);
  std::string huge = frame(kSet, "k", "v");
  const uint32_t big = kMaxField + 1;
  std::memcpy(huge.data() + 1, &big, 4);
  EXPECT_THROW(parse_request(huge, r), std::runtime_error);  // refused before buffering 64 MiB
}

TEST(StoreProtocol, JobIdIsChecked) {
  StoreState state("job-a");
  std::map<int, Conn> conns;
  Conn& good = conns[1];
  good.fd = 1;
  good.in = frame(kHello, "job-a", "") + frame(kSet, "x", "1");
  state.feed(good, conns);
  EXPECT_FALSE(good.close_after);
  EXPECT_EQ(state.keys(), 1u);
  Conn& other = conns[2];
  other.fd = 2;
  other.in = frame(kHello, "job-b", "") + frame(kSet, "y", "1");
  state.feed(other, conns);
  EXPECT_TRUE(other.close_after);
  EXPECT_EQ(other.out[0], static_cast<char>(kRefused));
  EXPECT_NE(other.out.find("not job 'job-b'"), std::string::npos);
  EXPECT_EQ(state.keys(), 1u) << "a refused client changed the store";
  Conn& silent = conns[3];
  silent.fd = 3;
  silent.in = frame(kSet, "z", "1");  // no HELLO at all
  state.feed(silent, conns);
  EXPECT_TRUE(silent.close_after);
  EXPECT_EQ(state.keys(), 1u);
}

TEST(StoreProtocol, AddRefusesGarbageAndOverflow) {
  StoreState state("");
  std::map<int, Conn> conns;
  Conn& c = conns[1];
  c.fd = 1;
  c.in = frame(kAdd, "n", "abc");
  EXPECT_THROW(state.feed(c, conns), std::runtime_error);
  c.in = frame(kAdd, "n", "9223372036854775807") + frame(kAdd, "n", "1");
  EXPECT_THROW(state.feed(c, conns), std::runtime_error);
}

TEST(StoreProtocol, TheStoreHoldsABoundedAmount) {
  StoreState state("", 1000);
  std::map<int, Conn> conns;
  Conn& c = conns[1];
  c.fd = 1;
  c.in = frame(kSet, "a", std::string(600, 'x')) + frame(kSet, "a", std::string(900, 'y'));  // replaces: fits
  EXPECT_NO_THROW(state.feed(c, conns));
  EXPECT_EQ(state.bytes(), 901u);
  c.in = frame(kSet, "b", std::string(200, 'z'));
  EXPECT_THROW(state.feed(c, conns), std::runtime_error);
  EXPECT_EQ(state.bytes(), 901u);
}

TEST(StoreProtocol, ARankSlotIsClaimedOnce) {
  StoreServer server("127.0.0.1", 0);
  StoreClient a("127.0.0.1", server.port(), 2s), b("127.0.0.1", server.port(), 2s);
  PeerRecord rec;
  rec.host = "h";
  rec.machine = "m";
  rec.pid = 1;
  rec.segment = "/s";
  rec.nranks = 1;
  EXPECT_NO_THROW(exchange_records(a, "p", 0, 1, rec));
  try {
    exchange_records(b, "p", 0, 1, rec);
    FAIL() << "a second rank 0 joined";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already joined"), std::string::npos) << e.what();
  }
}

}  // namespace
