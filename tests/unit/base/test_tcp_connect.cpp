// The deadline TCP connect shared by the rendezvous store client and the perftest side channel.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "rfab/base/tcp_connect.hpp"

namespace rfab {
namespace {

using namespace std::chrono_literals;

// A loopback listening socket on an ephemeral port (or only a reserved port when listen_now is false).
struct Server {
  int fd = -1;
  uint16_t port = 0;
  explicit Server(bool listen_now) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listen_now) listen();
  }
  void listen() { EXPECT_EQ(::listen(fd, 4), 0); }
  ~Server() { ::close(fd); }
};

TEST(TcpConnect, ConnectsWithNoDelay) {
  Server s(true);
  const int fd = tcp_connect("127.0.0.1", s.port, 2s);
  ASSERT_GE(fd, 0);
  int nodelay = 0;
  socklen_t l = sizeof nodelay;
  ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &l);
  EXPECT_NE(nodelay, 0);
  ::close(fd);
}

TEST(TcpConnect, RetriesUntilTheServerListens) {
  Server s(false);  // bound, not listening: connects are refused at first
  std::thread late([&] {
    std::this_thread::sleep_for(200ms);
    s.listen();
  });
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = tcp_connect("127.0.0.1", s.port, 5s);
  late.join();
  EXPECT_GE(fd, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  ::close(fd);
}

TEST(TcpConnect, TimesOutWithTheLastError) {
  Server s(false);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    tcp_connect("127.0.0.1", s.port, 300ms);
    FAIL() << "connected to a port nobody listens on";
  } catch (const TcpConnectError& e) {
    EXPECT_EQ(e.kind(), TcpConnectError::Kind::Timeout);
    EXPECT_EQ(e.last_errno(), ECONNREFUSED);
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(TcpConnect, UnresolvableHostFailsAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    tcp_connect("no-such-host.invalid", 1, 5s);
    FAIL() << "resolved an .invalid name";
  } catch (const TcpConnectError& e) {
    EXPECT_EQ(e.kind(), TcpConnectError::Kind::Resolve);
    EXPECT_NE(std::string(e.what()), "");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

}  // namespace
}  // namespace rfab
