// `rfab perf --server` facing clients it must not trust, on loopback: raw side-channel messages with
// malformed or out-of-range parameters are each refused with a reason naming the problem, the server keeps
// serving, never allocates past its --max-memory, and still runs the next honest client. Bad local flags
// fail before the server listens.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "netns.hpp"

namespace {
using namespace std::chrono_literals;
using rfab::systest::Child;

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Connects to 127.0.0.1:port, retrying while the server starts; -1 after 10 s.
int connect_to(uint16_t port) {
  for (int i = 0; i < 200; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

bool read_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, 10000) != 1) return false;
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// Sends one length-prefixed side-channel message (with `claimed` as its length when given) and returns the
// server's reply, or "<closed>".
std::string talk(uint16_t port, const std::string& msg, uint32_t claimed = UINT32_MAX) {
  const int fd = connect_to(port);
  if (fd < 0) return "<no server>";
  const uint32_t n = claimed == UINT32_MAX ? static_cast<uint32_t>(msg.size()) : claimed;
  const uint32_t be = htonl(n);
  std::string out(reinterpret_cast<const char*>(&be), 4);
  out += msg;
  (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
  char len[4];
  std::string reply = "<closed>";
  if (read_exact(fd, len, 4)) {
    uint32_t rn;
    std::memcpy(&rn, len, 4);
    rn = ntohl(rn);
    std::string r(std::min<uint32_t>(rn, 4096), '\0');
    if (read_exact(fd, r.data(), r.size())) reply = r;
  }
  ::close(fd);
  return reply;
}

std::string params(const std::string& size, const std::string& iters = "10", const std::string& extra = "") {
  return "rfab-perf/1 verb=write size=" + size + " iters=" + iters +
         " duration=0 qps=1 mtu=4096 spray=1 depth=128 slots=1 rx_depth=1 latency=0 seed=7 recovery=selective" + extra;
}

// Peak resident memory of a process in bytes (VmHWM).
// The server's own footprint on top of its --max-memory: none in a plain build. AddressSanitizer adds its
// shadow memory and a quarantine of freed blocks (up to 256 MiB by default) to the resident set, so a
// sanitized run only checks that no refused request got anywhere near the gigabytes it asked for.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kRuntimeOverhead = 512ull << 20;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr uint64_t kRuntimeOverhead = 512ull << 20;
#else
constexpr uint64_t kRuntimeOverhead = 0;
#endif
#else
constexpr uint64_t kRuntimeOverhead = 0;
#endif

uint64_t peak_rss(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

class PerfHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    udp_ = std::to_string(20000 + ::getpid() % 20000);
    log_ = "/tmp/rfab-perf-hostile-" + std::to_string(::getpid()) + ".log";
  }
  void TearDown() override { std::remove(log_.c_str()); }

  std::vector<std::string> server_argv(const std::string& max_memory) const {
    return {rfab::systest::rfab_binary(), "perf", "write", "--server", "--local", "127.0.0.1", "-p", std::to_string(port_),
            "--udp-port", udp_, "--timeout", "3", "--max-memory", max_memory};
  }

  uint16_t port_ = 0;
  std::string udp_, log_;
};

TEST_F(PerfHostile, MalformedParametersAreRefusedAndTheServerKeepsServing) {
  Child server("", server_argv("64M"), log_);
  const struct {
    std::string msg;
    const char* names;
  } rows[] = {
      {params("6442450944"), "size"},           // 6 GiB: above the 2 GiB message limit
      {params("99999999999"), "size"},
      {params("-1"), "size"},
      {params("abc"), "size"},
      {params("65536", "99999999999999999999"), "iters"},
      {params("65536", "10", " qps=2"), "twice"},
      {params("65536", "10", " mystery=1"), "mystery"},
      {params("1073741824"), "--max-memory is 64MiB"},  // valid, but 1 GiB is above this server's limit
      // Small buffers, but 1024 QPs with 4096-deep queues: over 1 GB of queues (measured) without the check.
      {"rfab-perf/1 verb=write size=1 iters=10 duration=0 qps=1024 mtu=4096 spray=1 depth=4096 slots=4096 "
       "rx_depth=4096 latency=0 seed=7 recovery=selective",
       "of buffers and queues on the server, its --max-memory is 64MiB"},
      {"rfab-perf/1 verb=read" + params("1").substr(22), "this server runs write"},
      {"GET /metrics HTTP/1.1", "not an rfab perf peer"},
  };
  for (const auto& r : rows) {
    const std::string reply = talk(port_, r.msg);
    EXPECT_EQ(reply.rfind("error: ", 0), 0u) << r.msg << " -> " << reply;
    EXPECT_NE(reply.find(r.names), std::string::npos) << r.msg << " -> " << reply;
  }
  // A length prefix of 4 GiB is refused before anything is allocated for it.
  EXPECT_EQ(talk(port_, "x", 0xFFFFFFF0u).rfind("error: ", 0), 0u);
  EXPECT_EQ(server.wait(0ms), -1) << "the server stopped after a bad client:\n" << server.output();
  // No hostile message made it allocate anywhere near what was asked (GiBs): its limit is 64 MiB.
  EXPECT_LT(peak_rss(server.pid()), (64ull << 20) + kRuntimeOverhead) << server.output();

  // An honest client that needs more than the server allows is told so and exits 2.
  int code = 0;
  const std::string big = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " perf write 127.0.0.1 -p " + std::to_string(port_) + " --udp-port " + udp_ +
          " --local 127.0.0.2 -s 128M -n 1 2>&1",
      code);
  EXPECT_EQ(code, 2) << big;
  EXPECT_NE(big.find("server refused: the client's test needs 128."), std::string::npos) << big;

  // The next honest client is served.
  const std::string ok = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " perf write 127.0.0.1 -p " + std::to_string(port_) + " --udp-port " + udp_ +
          " --local 127.0.0.2 -s 64K -n 20 --json 2>&1",
      code);
  EXPECT_EQ(code, 0) << ok << "\nserver:\n" << server.output();
  EXPECT_EQ(server.wait(20s), 0) << server.output();
  EXPECT_NE(server.output().find("refused client"), std::string::npos) << server.output();
}

// After an accepted parameter message, perftest-format key messages whose GID the server must not connect
// to (the unspecified address, multicast, the other IP version) are refused like any bad value.
TEST_F(PerfHostile, HostileKeyMessagesAreRefused) {
  Child server("", server_argv("64M"), log_);
  const std::string prefix = "0000:0010:000123:abcdef:00001234:00007f0000001000:";
  const std::string gids[] = {
      "00:00:00:00:00:00:00:00:00:00:ff:ff:00:00:00:00:",  // 0.0.0.0
      "00:00:00:00:00:00:00:00:00:00:ff:ff:e0:00:00:01:",  // 224.0.0.1
      "ff:02:00:00:00:00:00:00:00:00:00:00:00:00:00:01:",  // ff02::1
      "fd:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01:",  // an IPv6 peer for an IPv4 server
  };
  for (const std::string& gid : gids) {
    const int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    const std::string p = params("65536");
    const uint32_t be = htonl(static_cast<uint32_t>(p.size()));
    std::string out(reinterpret_cast<const char*>(&be), 4);
    out += p;
    std::string key = prefix + gid + "00000000:";
    key.push_back('\0');
    ASSERT_EQ(key.size(), 108u);
    out += key;
    (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    char buf[256];
    while (read_exact(fd, buf, 1)) {
    }
    ::close(fd);
    EXPECT_EQ(server.wait(200ms), -1) << "a key message ended the server (" << gid << "):\n" << server.output();
  }
  EXPECT_NE(server.output().find("unspecified address"), std::string::npos) << server.output();
  EXPECT_NE(server.output().find("not a unicast address"), std::string::npos) << server.output();
  EXPECT_NE(server.output().find("differ in IP version"), std::string::npos) << server.output();
  int code = 0;
  const std::string ok = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " perf write 127.0.0.1 -p " + std::to_string(port_) + " --udp-port " + udp_ +
          " --local 127.0.0.2 -s 64K -n 20 2>&1",
      code);
  EXPECT_EQ(code, 0) << ok << "\nserver:\n" << server.output();
  EXPECT_EQ(server.wait(20s), 0) << server.output();
}

// perftest's dialect: a peer that breaks the conversation before the transfer (an old version, absurd
// system data, a bad MTU) is dropped and the server serves the next client.
TEST_F(PerfHostile, PerftestServerDropsBrokenPeersAndKeepsServing) {
  const std::string common = " -p " + std::to_string(port_) + " --udp-port " + udp_ + " -s 64K -n 20 --timeout 3";
  Child server("", {"sh", "-c", "exec " + rfab::systest::rfab_binary() + " perf write --server --perftest --local 127.0.0.1" +
                                    common},
               log_);
  const std::string version = std::string("6.06") + std::string(12, '\0');
  const std::string openings[] = {
      std::string("4.2") + std::string(13, '\0'),                            // too old
      version + std::string("\x00\x00\x00\x00\x00\x00\x00\x40", 8),         // cycle buffer 0
      version + std::string("\x7f\xff\xff\xff\x00\x00\x00\x40", 8),         // cycle buffer 2 GiB
      version + std::string("\x00\x00\x10\x00\x00\x00\x00\x40", 8) + std::string("9\0", 2),  // MTU enum 9
  };
  for (const std::string& o : openings) {
    const int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    // The client side writes first in every perftest exchange: send each piece after the server's answer.
    size_t off = 0;
    for (size_t piece : {size_t{16}, size_t{4}, size_t{4}, size_t{2}}) {
      if (off >= o.size()) break;
      (void)!::send(fd, o.data() + off, std::min(piece, o.size() - off), MSG_NOSIGNAL);
      off += piece;
      char buf[16];
      if (!read_exact(fd, buf, piece)) break;
    }
    char c;
    while (read_exact(fd, &c, 1)) {
    }
    ::close(fd);
    EXPECT_EQ(server.wait(200ms), -1) << "a broken perftest peer ended the server:\n" << server.output();
  }
  EXPECT_NE(server.output().find("perftest >= 5.70"), std::string::npos) << server.output();
  EXPECT_NE(server.output().find("cycle buffer 0"), std::string::npos) << server.output();
  EXPECT_NE(server.output().find("not an ibv_mtu value"), std::string::npos) << server.output();
  int code = 0;
  const std::string ok = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " perf write 127.0.0.1 --perftest --local 127.0.0.2" + common + " 2>&1", code);
  EXPECT_EQ(code, 0) << ok << "\nserver:\n" << server.output();
  EXPECT_EQ(server.wait(20s), 0) << server.output();
}

TEST_F(PerfHostile, SilentClientIsDroppedAfterTheTimeout) {
  Child server("", server_argv("64M"), log_);
  const int fd = connect_to(port_);  // connects and says nothing
  ASSERT_GE(fd, 0);
  char c;
  pollfd pf{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&pf, 1, 10000), 1) << "the server kept a silent client past its --timeout";
  EXPECT_LE(::recv(fd, &c, 1, 0), 1);
  ::close(fd);
  EXPECT_EQ(server.wait(0ms), -1) << server.output();
  EXPECT_EQ(talk(port_, params("abc")).rfind("error: ", 0), 0u);
}

TEST_F(PerfHostile, BadLocalFlagsFailBeforeListening) {
  for (const char* verb : {"write", "send"}) {
    std::vector<std::string> argv = {rfab::systest::rfab_binary(), "perf", verb, "--server", "-p",
                                     std::to_string(port_), "--faults", "bogus=1"};
    Child server("", argv, log_);
    EXPECT_EQ(server.wait(5s), 2) << "waited for a client before checking --faults:\n" << server.output();
    EXPECT_NE(server.output().find("--faults"), std::string::npos) << server.output();
    argv = {rfab::systest::rfab_binary(), "perf", verb, "--server", "-p", std::to_string(port_), "--local", "not-an-ip"};
    Child server2("", argv, log_);
    EXPECT_EQ(server2.wait(5s), 2) << server2.output();
    EXPECT_NE(server2.output().find("--local"), std::string::npos) << server2.output();
  }
}

}  // namespace

namespace {

// The completion timeout follows progress: one 32 MiB WRITE paced to 80 Mb/s takes about 3.4 s, three
// times --timeout, and must still complete (packets keep arriving), as must the server's side.
TEST_F(PerfHostile, SlowButSteadyTransferOutlastsTheTimeout) {
  Child server("", {rfab::systest::rfab_binary(), "perf", "write", "--server", "--local", "127.0.0.1", "-p",
                    std::to_string(port_), "--udp-port", udp_, "--timeout", "1"},
               log_);
  int code = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out = rfab::systest::run_capture(
      rfab::systest::rfab_binary() + " perf write 127.0.0.1 -p " + std::to_string(port_) + " --udp-port " + udp_ +
          " --local 127.0.0.2 -s 32M -n 1 --cc dcqcn:min_rate=10M --line-rate 80M --timeout 1 2>&1",
      code);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(code, 0) << out << "\nserver:\n" << server.output();
  EXPECT_GT(seconds, 2.0) << "the transfer was not paced, the test proves nothing:\n" << out;
  EXPECT_EQ(server.wait(10s), 0) << server.output();
}

}  // namespace
