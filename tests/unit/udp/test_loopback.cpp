// TxBatch -> kernel -> RxBatch over the loopback interface: GSO runs, sendmmsg batching, GRO splitting,
// and the receive-side ICRC check on what came back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "rfab/udp/error.hpp"
#include "rfab/udp/rx_batch.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/tx_batch.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/bytes.hpp"

namespace {
using namespace rfab::udp;

// A datagram that looks like BTH .. ICRC slot: byte 0 opcode 0x0A, a sequence number, filler.
std::vector<uint8_t> datagram(uint32_t seq, size_t len) {
  std::vector<uint8_t> d(len, 0);
  d[0] = 0x0A;
  rfab::wire::store_be32(d.data() + 8, seq);
  for (size_t i = 12; i + 4 < len; ++i) d[i] = static_cast<uint8_t>(seq + i);
  return d;
}

std::vector<RxDatagram> receive_n(RxBatch& rx, size_t n, std::vector<std::vector<uint8_t>>& keep) {
  std::vector<RxDatagram> all, got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (keep.size() < n && std::chrono::steady_clock::now() < deadline) {
    if (rx.receive(got) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    for (auto& g : got) {
      keep.emplace_back(g.data.begin(), g.data.end());
      RxDatagram copy = g;
      copy.data = keep.back();
      all.push_back(copy);
    }
  }
  return all;
}

// A receive and a send socket on `ip` (kernel-chosen ports). False, with the reason, when the address
// cannot be bound here (e.g. ::1 on a machine with IPv6 switched off): the caller skips.
bool bind_pair(const char* ip, UdpSocket& rx, UdpSocket& tx, std::string& why) {
  auto any = Address::parse(ip, 0);
  if (!any) {
    ADD_FAILURE() << "cannot parse " << ip;  // a bad literal in the test, not the machine
    why = "bad address";
    return false;
  }
  try {
    rx = UdpSocket::bind(*any);
    tx = UdpSocket::bind(*any);
  } catch (const UdpError& e) {
    why = e.what();
    return false;
  }
  return true;
}

void run(const char* ip, bool gso) {
  UdpSocket rx_sock, tx_sock;
  std::string why;
  if (!bind_pair(ip, rx_sock, tx_sock, why)) GTEST_SKIP() << why;
  TxBatch tx(tx_sock, gso);
  RxBatch rx(rx_sock);
  // 3 runs: 20 x 1100 B + one 300 B tail, then 5 x 64 B, then a single 2000 B datagram.
  std::vector<std::vector<uint8_t>> sent;
  for (uint32_t i = 0; i < 20; ++i) sent.push_back(datagram(i, 1100));
  sent.push_back(datagram(20, 300));
  for (uint32_t i = 21; i < 26; ++i) sent.push_back(datagram(i, 64));
  sent.push_back(datagram(26, 2000));
  for (auto& d : sent) ASSERT_TRUE(tx.push(rx_sock.local(), d));
  if (gso) EXPECT_EQ(tx.queued(), 3u);  // three GSO runs
  else EXPECT_EQ(tx.queued(), sent.size());
  tx.flush();
  EXPECT_EQ(tx.counters().datagrams, sent.size());

  std::vector<std::vector<uint8_t>> keep;
  keep.reserve(sent.size());
  auto got = receive_n(rx, sent.size(), keep);
  ASSERT_EQ(got.size(), sent.size());
  IcrcVerifier verifier;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::vector<uint8_t>(got[i].data.begin(), got[i].data.end()), sent[i]) << i;
    EXPECT_EQ(got[i].src, tx_sock.local());
    EXPECT_TRUE(verifier.verify(got[i].src, rx_sock.local(), got[i].data)) << i;
  }
}

// Gathered datagrams (headers + payload elsewhere + ICRC slot: three iovecs each) mixed with whole ones in
// one GSO run arrive as the same bytes, with a valid ICRC for their segment's IPv4 ID.
void run_gather(const char* ip) {
  UdpSocket rx_sock, tx_sock;
  std::string why;
  if (!bind_pair(ip, rx_sock, tx_sock, why)) GTEST_SKIP() << why;
  TxBatch tx(tx_sock, true);
  RxBatch rx(rx_sock);
  constexpr size_t kHdr = 12, kPay = 1024;
  std::vector<std::vector<uint8_t>> sent, heads, pays;
  for (uint32_t i = 0; i < 40; ++i) sent.push_back(datagram(i, kHdr + kPay + 4));
  heads.reserve(sent.size());
  pays.reserve(sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i % 3 == 1) {
      ASSERT_TRUE(tx.push(rx_sock.local(), sent[i]));
      continue;
    }
    heads.emplace_back(sent[i].begin(), sent[i].begin() + kHdr);
    heads.back().resize(kHdr + 4);
    pays.emplace_back(sent[i].begin() + kHdr, sent[i].begin() + kHdr + kPay);
    ASSERT_TRUE(tx.push_gather(rx_sock.local(), heads.back(), kHdr, pays.back()));
  }
  EXPECT_EQ(tx.queued(), 1u);  // one GSO run of 40 equal-size datagrams
  tx.flush();
  EXPECT_EQ(tx.counters().datagrams, sent.size());
  std::vector<std::vector<uint8_t>> keep;
  keep.reserve(sent.size());
  auto got = receive_n(rx, sent.size(), keep);
  ASSERT_EQ(got.size(), sent.size());
  IcrcVerifier verifier;
  for (size_t i = 0; i < got.size(); ++i) {
    // The ICRC of whole datagrams was written into sent[i] by push; compare everything before it.
    EXPECT_EQ(std::vector<uint8_t>(got[i].data.begin(), got[i].data.end() - 4),
              std::vector<uint8_t>(sent[i].begin(), sent[i].end() - 4)) << i;
    EXPECT_TRUE(verifier.verify(got[i].src, rx_sock.local(), got[i].data)) << i;
    if (ip[0] != ':') {  // IPv4: segment i of the GSO run carries ID i
      EXPECT_EQ(verifier.last_ipv4_id(), i) << i;
    }
  }
}

TEST(UdpLoopback, GsoRunsAndGroSplitIpv4) { run("127.0.0.1", true); }
TEST(UdpLoopback, GatheredDatagramsIpv4) { run_gather("127.0.0.1"); }
TEST(UdpLoopback, GatheredDatagramsIpv6) { run_gather("::1"); }
TEST(UdpLoopback, PlainSendmmsgIpv4) { run("127.0.0.1", false); }
TEST(UdpLoopback, GsoRunsAndGroSplitIpv6) { run("::1", true); }

TEST(UdpSocket, BindErrorsNameTheProblem) {
  auto a = *Address::parse("127.0.0.1", 0);
  UdpSocket s = UdpSocket::bind(a);
  try {
    UdpSocket t = UdpSocket::bind(s.local());
    FAIL() << "second bind succeeded";
  } catch (const UdpError& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  EXPECT_THROW(UdpSocket::bind(*Address::parse("192.0.2.77", 0)), UdpError);
}

}  // namespace
