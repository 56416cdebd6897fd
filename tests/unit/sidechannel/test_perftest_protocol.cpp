// perftest's side-channel conversation against real perftest 4.5 traffic: the TCP payloads of two rxe guests
// running ib_read_bw / ib_send_bw (tests/data/rxe/*.pcap) are replayed by a fake peer on loopback while
// PerftestConversation plays the other role. Every message rfab sends must have the length perftest's did,
// and the fixed-content ones (version, system data, MTU, "done") the same bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <unistd.h>
#include <vector>

#include "rfab/sidechannel/perftest_protocol.hpp"
#include "rfab/pcap/pcap_file.hpp"
#include "rfab/wire/bytes.hpp"
#include "test_support.hpp"

namespace {
using namespace rfab::sidechannel;
using namespace std::chrono_literals;

struct Msg {
  bool from_client;
  std::string bytes;
};

// TCP payloads in capture order; the client is the side that sent the first payload.
std::vector<Msg> perftest_stream(const std::string& file) {
  rfab::pcap::Reader r(rfab::test::data_path("rxe/" + file));
  r.set_filter("tcp");
  std::vector<Msg> out;
  uint32_t client_ip = 0;
  rfab::pcap::Record rec;
  while (r.next(rec)) {
    const uint8_t* ip = rec.data.data() + rec.l2_skip + 14;  // Ethernet captures
    const size_t ihl = (ip[0] & 0x0F) * 4u, total = rfab::wire::load_be16(ip + 2);
    const uint8_t* tcp = ip + ihl;
    const size_t thl = (tcp[12] >> 4) * 4u;
    const size_t len = total - ihl - thl;
    if (len == 0) continue;
    const uint32_t src = rfab::wire::load_be32(ip + 12);
    if (out.empty()) client_ip = src;
    out.push_back({src == client_ip, std::string(reinterpret_cast<const char*>(tcp + thl), len)});
  }
  return out;
}

uint16_t test_port() { return rfab::test::unused_tcp_port(); }

// Plays `fake_client ? client : server` from the capture; records what the other side sent.
void replay(const std::vector<Msg>& stream, bool fake_client, uint16_t port, std::vector<std::string>& received,
            std::string& error) {
  try {
    TcpChannel ch = fake_client ? TcpChannel::connect("127.0.0.1", port, 5s) : TcpChannel::accept_one("127.0.0.1", port, 5s);
    for (const Msg& m : stream) {
      if (m.from_client == fake_client) {
        ch.send_all(m.bytes, 5s, "replay");
      } else {
        std::string got(m.bytes.size(), '\0');
        ch.recv_exact(got, 5s, "replay");
        received.push_back(got);
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
}

PerftestDest our_dest() {
  PerftestDest d;
  d.out_reads = 16;
  d.qpn = 0x123456;
  d.psn = 0xABCDEF;
  d.rkey = 0x1234;
  d.vaddr = 0x7f0000001000;
  d.gid = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 254};
  return d;
}

// The conversation of a non-duplex bandwidth test with one QP, as rfab runs it.
void run_ours(PerftestConversation& c, bool send_verb, bool is_client, PerftestDest& peer_key) {
  EXPECT_EQ(c.exchange_versions(), "6.06");
  const PerftestSysData sys = c.exchange_sys_data({});
  EXPECT_EQ(sys.cycle_buffer, 4096u);
  EXPECT_EQ(sys.cache_line, 64u);
  EXPECT_EQ(c.exchange_mtu(1024), 1024u);  // rxe on a 1500-byte netdev: 1024 on both sides
  const PerftestDest me = our_dest();
  peer_key = c.hand_shake(me, "keys");
  EXPECT_EQ(c.hand_shake(me, "keys again"), peer_key);
  c.hand_shake(me, "after RTR");
  if (send_verb) {
    c.hand_shake(me, "receives posted");
  } else {
    c.hand_shake(me, "after test");
    const PerftestBwReport theirs = c.exchange_bw_reports({64, 50, 0.5, 0.25, 0.125});
    if (!is_client) {  // the captured client measured 50 READs of 64 bytes
      EXPECT_EQ(theirs.size, 64u);
      EXPECT_EQ(theirs.iters, 50u);
      EXPECT_TRUE(std::isfinite(theirs.bw_avg) && theirs.bw_avg > 0);
    }
  }
  c.close(me);
}

void check_against_capture(const std::string& file, bool send_verb, bool rfab_is_client) {
  const auto stream = perftest_stream(file);
  ASSERT_GT(stream.size(), 10u);
  const uint16_t port = test_port();
  std::vector<std::string> received;
  std::string error;
  std::thread fake([&] { replay(stream, !rfab_is_client, port, received, error); });
  PerftestDest peer_key;
  {
    TcpChannel ch = rfab_is_client ? TcpChannel::connect("127.0.0.1", port, 5s) : TcpChannel::accept_one("127.0.0.1", port, 5s);
    PerftestConversation c(ch, 5s);
    run_ours(c, send_verb, rfab_is_client, peer_key);
  }
  fake.join();
  ASSERT_EQ(error, "");
  // What perftest sent in our role, message by message: the same lengths, and the same bytes where they
  // do not depend on the QP (version, system data, MTU, "done").
  std::vector<std::string> perftests;
  for (const Msg& m : stream) {
    if (m.from_client == rfab_is_client) perftests.push_back(m.bytes);
  }
  ASSERT_EQ(received.size(), perftests.size());
  for (size_t i = 0; i < received.size(); ++i) {
    ASSERT_EQ(received[i].size(), perftests[i].size()) << "message " << i;
    if (received[i].size() != kKeyMsgSizeGid && received[i].size() != 8) {
      EXPECT_EQ(received[i], perftests[i]) << "message " << i;
    }
    if (received[i].size() == kKeyMsgSizeGid) {
      std::string err;
      EXPECT_EQ(parse_dest(received[i], err).value(), our_dest()) << err;
    }
  }
  // The key we parsed is the captured peer's.
  std::string err;
  for (const Msg& m : stream) {
    if (m.from_client != rfab_is_client && m.bytes.size() == kKeyMsgSizeGid) {
      EXPECT_EQ(parse_dest(m.bytes, err).value(), peer_key);
      break;
    }
  }
}

TEST(PerftestProtocol, ReadBwClientRoleMatchesPerftest) { check_against_capture("mtu1024_read_64.pcap", false, true); }
TEST(PerftestProtocol, ReadBwServerRoleMatchesPerftest) { check_against_capture("mtu1024_read_64.pcap", false, false); }
TEST(PerftestProtocol, SendBwClientRoleMatchesPerftest) { check_against_capture("mtu1024_send_64.pcap", true, true); }
TEST(PerftestProtocol, SendBwServerRoleMatchesPerftest) { check_against_capture("mtu1024_send_64.pcap", true, false); }

TEST(PerftestProtocol, ByteImages) {
  EXPECT_EQ(encode_perftest_sysdata({4096, 64}), std::string("\x00\x00\x10\x00\x00\x00\x00\x40", 8));
  // The captured client report: size 64, 50 iterations, doubles big-endian.
  const auto stream = perftest_stream("mtu1024_read_64.pcap");
  std::string report;
  for (const Msg& m : stream) {
    if (m.from_client && m.bytes.size() == 8) report += m.bytes;
  }
  ASSERT_EQ(report.size(), 40u);
  const PerftestBwReport r = decode_perftest_bw_report(report);
  EXPECT_EQ(r.size, 64u);
  EXPECT_EQ(r.iters, 50u);
  EXPECT_GT(r.bw_peak, 0.0);
  EXPECT_LT(r.bw_peak, 1.0);  // Gb/s of 64-byte READs in a TCG guest
  EXPECT_EQ(encode_perftest_bw_report(r), report);
  for (uint32_t b : {256u, 512u, 1024u, 2048u, 4096u}) EXPECT_EQ(perftest_mtu_bytes(perftest_mtu_enum(b)), b);
  EXPECT_EQ(perftest_mtu_enum(1500), 0);
  EXPECT_EQ(perftest_mtu_bytes(6), 0u);
}

TEST(PerftestProtocol, OldOrForeignPeersAreRefusedByName) {
  const uint16_t port = test_port();
  std::thread fake([&] {
    try {
      TcpChannel ch = TcpChannel::accept_one("127.0.0.1", port, 5s);
      std::array<char, 16> in{}, out{'5', '.', '6', '0'};
      ch.recv_exact(in, 5s, "fake");
      ch.send_all(out, 5s, "fake");
    } catch (...) {
    }
  });
  TcpChannel ch = TcpChannel::connect("127.0.0.1", port, 5s);
  PerftestConversation c(ch, 5s);
  try {
    c.exchange_versions();
    FAIL() << "accepted perftest 5.60";
  } catch (const ExchangeError& e) {
    EXPECT_NE(std::string(e.what()).find("'5.60'"), std::string::npos) << e.what();
  }
  fake.join();
}

}  // namespace

namespace {

// The checks on what a perftest peer sends, without a socket (what the fuzzer drives).
TEST(PerftestProtocol, PeerFieldsAreCheckedWithoutASocket) {
  auto version = [](const std::string& v) {
    std::array<char, 16> b{};
    std::memcpy(b.data(), v.data(), std::min<size_t>(v.size(), 15));
    return check_perftest_version(b);
  };
  EXPECT_EQ(version("6.06"), "6.06");
  for (const char* bad : {"5.60", "nan", "inf", "1e999", "", "abc"}) EXPECT_THROW(version(bad), std::invalid_argument) << bad;
  const char cycle[4] = {0, 0, 0x10, 0}, line[4] = {0, 0, 0, 64}, zero[4] = {0, 0, 0, 0}, huge[4] = {0x7f, 0, 0, 0};
  EXPECT_EQ(merge_perftest_sys_data({}, cycle, line).cycle_buffer, 4096u);
  EXPECT_THROW(merge_perftest_sys_data({}, zero, line), std::invalid_argument);
  EXPECT_THROW(merge_perftest_sys_data({}, huge, line), std::invalid_argument);
  EXPECT_THROW(merge_perftest_sys_data({}, cycle, zero), std::invalid_argument);
  const char mtu3[2] = {'3', 0}, mtu9[2] = {'9', 0}, mtu_unterminated[2] = {'3', '3'};
  EXPECT_EQ(parse_perftest_mtu(mtu3), 3);
  EXPECT_THROW(parse_perftest_mtu(mtu9), std::invalid_argument);
  EXPECT_THROW(parse_perftest_mtu(mtu_unterminated), std::invalid_argument);
}

}  // namespace
