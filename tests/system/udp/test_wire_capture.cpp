// What the UDP datapath puts on the wire, checked from the outside: packets sent from one namespace are
// captured on the peer's veth with dumpcap, the IPv4 IDs read back with tshark (the DF/ID rule the ICRC
// depends on: ID 0 for a plain send, ID i for GSO segment i), and every ICRC verified by
// `rfab decode --verify-icrc` over the real headers. The receiving socket's own check must agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "netns.hpp"
#include "rfab/udp/rx_batch.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/tx_batch.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/opcode.hpp"
#include "rfab/wire/packet.hpp"

namespace {
using namespace rfab;
using namespace std::chrono_literals;

// A valid RC RDMA WRITE MIDDLE packet (BTH + payload + ICRC slot) with a recognisable PSN.
std::vector<uint8_t> middle(uint32_t psn, size_t payload_len) {
  wire::RoceFields f;
  f.bth.opcode = 0x07;  // RC RDMA WRITE MIDDLE
  f.bth.dest_qp = 0x000042;
  f.bth.psn = psn;
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(psn * 31 + i);
  std::vector<uint8_t> out(wire::roce_encoded_len(f.bth.opcode, payload_len));
  EXPECT_TRUE(wire::encode_roce(f, payload, out).ok());
  return out;
}

struct Capture {
  std::unique_ptr<systest::Child> proc;
  std::string file;
};

// Starts dumpcap on `ifname` in `ns`, stopping after `count` packets; returns once it is capturing.
Capture start_capture(const std::string& ns, const std::string& ifname, int count, const std::string& tag) {
  Capture c;
  c.file = "/tmp/" + ns + "-" + tag + ".pcapng";
  std::filesystem::remove(c.file);
  c.proc = std::make_unique<systest::Child>(
      ns, std::vector<std::string>{"dumpcap", "-q", "-i", ifname, "-f", "udp", "-c", std::to_string(count), "-a",
                                   "duration:20", "-w", c.file},
      c.file + ".log");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (std::filesystem::file_size(c.file, ec) > 0 && !ec) return c;  // header written: capturing
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "dumpcap did not start: " << c.proc->output();
  return c;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

class WireCapture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!systest::running_as_root()) GTEST_SKIP() << "needs root (network namespaces)";
    net_ = std::make_unique<systest::NetnsPair>(9000);
  }
  std::unique_ptr<systest::NetnsPair> net_;
};

// Sends `packets` from A to B (GSO on or off), captures them on B and checks IDs, ICRCs and reception.
void send_and_check(const systest::NetnsPair& net, bool v6, bool gso, std::vector<std::vector<uint8_t>> packets,
                    const std::vector<int>& expected_ids, int corrupt_index = -1) {
  const uint16_t port = 4791;
  const auto a = udp::Address::parse(v6 ? net.ip6_a : net.ip4_a, 0xC0DE).value();
  const auto b = udp::Address::parse(v6 ? net.ip6_b : net.ip4_b, port).value();
  udp::UdpSocket tx_sock, rx_sock;
  net.in(net.ns_a, [&] { tx_sock = udp::UdpSocket::bind(a); });
  net.in(net.ns_b, [&] { rx_sock = udp::UdpSocket::bind(b); });
  const std::string tag = std::string(v6 ? "v6" : "v4") + (gso ? "gso" : "plain");
  // veth passes a GSO super-packet through unsegmented; turn its UDP segmentation offload off so the
  // kernel segments in software before the veth, as it does for a NIC without USO, and the capture sees
  // the real segments with their IP IDs.
  systest::sh("ip netns exec " + net.ns_a + " ethtool -K " + net.if_a + " tx-udp-segmentation off");
  Capture cap = start_capture(net.ns_b, net.if_b, static_cast<int>(packets.size()), tag);

  udp::TxBatch tx(tx_sock, gso);
  for (auto& p : packets) ASSERT_TRUE(tx.push(b, p));
  if (corrupt_index >= 0) packets[static_cast<size_t>(corrupt_index)][20] ^= 0x01;  // after the ICRC was computed
  tx.flush();
  ASSERT_EQ(tx.counters().datagrams, packets.size());

  // The receiver: every packet arrives (GRO split back), the socket-level ICRC check agrees with the wire.
  udp::RxBatch rx(rx_sock);
  udp::IcrcVerifier verifier;
  std::vector<udp::RxDatagram> got;
  size_t received = 0, verified = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (received < packets.size() && std::chrono::steady_clock::now() < deadline) {
    if (rx.receive(got) == 0) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    for (const auto& d : got) {
      EXPECT_EQ(d.src, a);
      EXPECT_EQ(std::vector<uint8_t>(d.data.begin(), d.data.end()), packets[received]);
      if (verifier.verify(d.src, b, d.data)) ++verified;
      ++received;
    }
  }
  EXPECT_EQ(received, packets.size());
  EXPECT_EQ(verified, packets.size() - (corrupt_index >= 0 ? 1 : 0));

  ASSERT_EQ(cap.proc->wait(15s), 0) << cap.proc->output();
  if (!v6) {
    int code = 0;
    const auto ids = lines(systest::run_capture("{ tshark -r " + cap.file + " -T fields -e ip.id -e ip.flags.df 2>/dev/null; }", code));
    ASSERT_EQ(ids.size(), expected_ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      std::ostringstream want;
      want << "0x" << std::hex;
      want.width(4);
      want.fill('0');
      want << expected_ids[i];
      EXPECT_EQ(ids[i], want.str() + "\t1") << "packet " << i;
    }
  }
  int code = 0;
  const std::string decoded = systest::run_capture("{ " + systest::rfab_binary() + " decode --verify-icrc " + cap.file + " 2>/dev/null; }", code);
  EXPECT_EQ(code, corrupt_index >= 0 ? 1 : 0) << decoded;
  EXPECT_EQ(lines(decoded).size() >= packets.size(), true) << decoded;
  std::filesystem::remove(cap.file);
  std::filesystem::remove(cap.file + ".log");
}

TEST_F(WireCapture, Ipv4GsoSegmentsCarryIdsZeroToN) {
  std::vector<std::vector<uint8_t>> p;
  for (uint32_t i = 0; i < 15; ++i) p.push_back(middle(i, 4096));  // 15 x 4112 B: one GSO send
  p.push_back(middle(15, 1024));                                   // a shorter last segment
  std::vector<int> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(i);
  send_and_check(*net_, false, true, p, ids);
}

TEST_F(WireCapture, Ipv4PlainSendsCarryIdZero) {
  std::vector<std::vector<uint8_t>> p;
  for (uint32_t i = 0; i < 8; ++i) p.push_back(middle(i, 256 * (i + 1)));
  send_and_check(*net_, false, false, p, std::vector<int>(8, 0));
}

TEST_F(WireCapture, Ipv6GsoVerifiesExactly) {
  std::vector<std::vector<uint8_t>> p;
  for (uint32_t i = 0; i < 10; ++i) p.push_back(middle(i, 2048));
  send_and_check(*net_, true, true, p, {});
}

TEST_F(WireCapture, CorruptedPacketFailsBothChecks) {
  std::vector<std::vector<uint8_t>> p;
  for (uint32_t i = 0; i < 4; ++i) p.push_back(middle(i, 512));
  send_and_check(*net_, false, true, p, {0, 1, 2, 3}, 2);
}

}  // namespace
