// The TCP side channel over loopback: perftest exchange order, barriers, and bounded waits.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <unistd.h>

#include "rfab/sidechannel/perftest_dest.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"
#include "test_support.hpp"

namespace {
using namespace rfab::sidechannel;
using namespace std::chrono_literals;

// A port nobody listens on, from the kernel: pid-derived ports collided when ctest ran these tests in
// parallel (one test's "nobody listens here" port was another's listening port).
uint16_t free_port() { return rfab::test::unused_tcp_port(); }

TEST(TcpChannel, ExchangesDestsBothWays) {
  const uint16_t port = free_port();
  PerftestDest server_dest, client_dest;
  server_dest.qpn = 0x11;
  client_dest.qpn = 0x22;
  PerftestDest got_by_server;
  std::string server_error;
  std::thread server([&] {
    try {
      TcpChannel c = TcpChannel::accept_one("127.0.0.1", port, 5s);
      EXPECT_FALSE(c.is_client());
      auto mine = encode_dest_gid(server_dest);
      std::array<char, kKeyMsgSizeGid> theirs{};
      c.exchange(mine, theirs, 5s, "keys");
      std::string err;
      got_by_server = parse_dest(theirs, err).value();
      c.barrier(5s, "done");
    } catch (const std::exception& e) {
      server_error = e.what();
    }
  });
  TcpChannel c = TcpChannel::connect("127.0.0.1", port, 5s);  // retries until the server listens
  EXPECT_TRUE(c.is_client());
  EXPECT_EQ(c.peer_ip(), "127.0.0.1");
  auto mine = encode_dest_gid(client_dest);
  std::array<char, kKeyMsgSizeGid> theirs{};
  c.exchange(mine, theirs, 5s, "keys");
  std::string err;
  EXPECT_EQ(parse_dest(theirs, err).value().qpn, 0x11u);
  c.barrier(5s, "done");
  server.join();
  EXPECT_EQ(server_error, "");
  EXPECT_EQ(got_by_server.qpn, 0x22u);
}

TEST(TcpChannel, ConnectGivesUpAtTheDeadline) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    TcpChannel::connect("127.0.0.1", free_port(), 300ms);
    FAIL() << "connected to nobody";
  } catch (const ExchangeError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(TcpChannel, SilentPeerTimesOutAndClosedPeerIsNamed) {
  const uint16_t port = free_port();
  std::thread server([&] {
    TcpChannel c = TcpChannel::accept_one("127.0.0.1", port, 5s);
    std::this_thread::sleep_for(500ms);  // say nothing, then hang up
  });
  TcpChannel c = TcpChannel::connect("127.0.0.1", port, 5s);
  char buf[8];
  try {
    c.recv_exact(buf, 100ms, "hello");
    FAIL();
  } catch (const ExchangeError& e) {
    EXPECT_NE(std::string(e.what()).find("hello: timed out"), std::string::npos) << e.what();
  }
  server.join();
  try {
    c.recv_exact(buf, 2s, "keys");
    FAIL();
  } catch (const ExchangeError& e) {
    EXPECT_NE(std::string(e.what()).find("closed the connection"), std::string::npos) << e.what();
  }
}

TEST(TcpChannel, AcceptTimesOut) {
  EXPECT_THROW(TcpChannel::accept_one("127.0.0.1", free_port(), 100ms), ExchangeError);
}

TEST(TcpListener, KernelChosenPortAndPendingPeer) {
  TcpListener l("127.0.0.1", 0);
  const uint16_t port = l.port();
  EXPECT_NE(port, 0);
  EXPECT_FALSE(l.pending(0ms)) << "nobody has connected yet";
  std::thread client([&] { TcpChannel c = TcpChannel::connect("127.0.0.1", port, 5s); c.barrier(5s, "test"); });
  EXPECT_TRUE(l.pending(5s));
  TcpChannel s = l.accept(1s);
  s.barrier(5s, "test");
  client.join();
}

}  // namespace
