// IcrcVerifier against packets the Linux kernel's rdma_rxe sent (tests/data/rxe/*.pcap): rxe writes an
// arbitrary, per-packet incrementing IPv4 ID that a UDP socket never shows us, so the verifier has to solve
// the ICRC for it. Each packet is reduced to what a socket receiver knows (addresses, ports, UDP payload),
// and the verifier must accept it and recover the ID the capture shows.
//
// Corruption: once the ID is free, a random 32-bit ICRC error is explained by *some* ID with probability
// 2^-16. Flipping one bit is deterministic (the data is fixed), so the test flips every bit of every
// captured payload and requires (a) that every acceptance is a genuine CRC collision — the full frame with
// the recovered ID carries a correct ICRC, checked by the independent wire codec — and (b) that the number of
// acceptances stays at the 2^-16 rate (a broken solver that accepts more would show here at once).
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "rfab/pcap/pcap_file.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"
#include "test_support.hpp"

namespace {
using namespace rfab;

struct Captured {
  std::string file;
  udp::Address src, dst;
  uint16_t ip_id = 0;
  std::vector<uint8_t> l3;           // IP header .. ICRC inclusive, as captured
  std::vector<uint8_t> udp_payload;  // BTH .. ICRC
};

std::vector<std::string> capture_files() {
  const std::string dir = test::data_path("rxe");
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 5 && n.ends_with(".pcap")) out.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Captured> ipv4_roce_packets() {
  std::vector<Captured> out;
  for (const auto& path : capture_files()) {
    pcap::Reader r(path);
    pcap::Record rec;
    while (r.next(rec)) {
      auto f = wire::decode_frame(rec.data.subspan(rec.l2_skip), rec.link);
      if (!f.ok() || f->ipv6) continue;  // TCP (perftest's exchange), ARP, ...
      Captured c;
      c.file = path;
      c.src.ip = {};
      wire::store_be32(c.src.ip.data(), f->ip4.src);
      wire::store_be32(c.dst.ip.data(), f->ip4.dst);
      c.src.port = f->udp.src_port;
      c.dst.port = f->udp.dst_port;
      c.ip_id = f->ip4.id;
      c.l3.assign(f->l3.begin(), f->l3.end());  // IP header .. ICRC inclusive
      c.udp_payload.assign(c.l3.begin() + 28, c.l3.end());
      out.push_back(std::move(c));
    }
  }
  return out;
}

TEST(IcrcRxeCaptures, EveryIpv4PacketVerifiesAndItsIdIsRecovered) {
  const auto pkts = ipv4_roce_packets();
  ASSERT_GE(pkts.size(), 100u) << "expected the rxe captures in tests/data/rxe";
  udp::IcrcVerifier v;  // default: any ID
  std::vector<uint16_t> ids;
  for (const auto& c : pkts) {
    ASSERT_TRUE(wire::icrc_verify(c.l3)) << c.file << ": capture's own ICRC is bad";
    ASSERT_TRUE(v.verify(c.src, c.dst, c.udp_payload)) << c.file << " ip.id " << c.ip_id;
    EXPECT_EQ(v.last_ipv4_id(), c.ip_id) << c.file;
    ids.push_back(c.ip_id);
  }
  // The captures really exercise the solver: rxe's IDs are far outside a GSO window.
  EXPECT_GT(*std::max_element(ids.begin(), ids.end()), udp::kMaxGsoSegments);
  udp::IcrcVerifier gso_only(udp::kMaxGsoSegments);
  size_t gso_accepts = 0;
  for (const auto& c : pkts) gso_accepts += gso_only.verify(c.src, c.dst, c.udp_payload);
  EXPECT_LT(gso_accepts, pkts.size());
}

TEST(IcrcRxeCaptures, WrongAddressesOrPortsAreRejectedOrCollide) {
  // A wrong address changes 32 bits far from the ID: a solution exists only with probability 2^-16, and
  // then the frame with those headers must really carry a correct ICRC.
  udp::IcrcVerifier v;
  size_t accepted = 0, tried = 0;
  for (const auto& c : ipv4_roce_packets()) {
    for (const udp::Address& wrong_src : {c.src.with_port(static_cast<uint16_t>(c.src.port ^ 1)),
                                          *udp::Address::parse("10.77.0.9", c.src.port)}) {
      ++tried;
      accepted += v.verify(wrong_src, c.dst, c.udp_payload);
    }
  }
  EXPECT_LE(accepted, 1u) << "of " << tried;
}

TEST(IcrcRxeCaptures, FlippedBitsAreRejectedAtTheTwoToTheMinus16Rate) {
  udp::IcrcVerifier v;
  size_t flips = 0, accepted = 0;
  for (const auto& c : ipv4_roce_packets()) {
    for (size_t bit = 0; bit < c.udp_payload.size() * 8; ++bit) {
      if (bit / 8 == 4) continue;  // BTH byte 4 (FECN/BECN/reserved) is masked by the ICRC
      auto p = c.udp_payload;
      p[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      ++flips;
      if (!v.verify(c.src, c.dst, p)) continue;
      ++accepted;
      // A genuine collision: the captured frame with this payload and the recovered ID is self-consistent.
      const uint16_t id = v.last_ipv4_id();
      EXPECT_NE(id, c.ip_id) << c.file << " bit " << bit;
      auto l3 = c.l3;
      std::copy(p.begin(), p.end(), l3.begin() + 28);
      wire::store_be16(l3.data() + 4, id);
      EXPECT_TRUE(wire::icrc_verify(l3)) << c.file << " bit " << bit << " accepted with id " << id;
    }
  }
  ASSERT_GT(flips, 50'000u);
  // Expected flips / 65536 (about 1-2 here); a solver that accepted more than 8 would be broken.
  EXPECT_LE(accepted, 8u) << accepted << " of " << flips << " single-bit corruptions accepted";
  RecordProperty("flips", static_cast<int>(flips));
  RecordProperty("accepted", static_cast<int>(accepted));
}

}  // namespace
