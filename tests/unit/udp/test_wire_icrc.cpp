// The UDP datapath's ICRC against frames built by the wire encoder (which computes the ICRC over complete
// IP/UDP headers): what fill_icrc writes must equal it, IcrcVerifier must solve the ICRC for any IPv4 ID
// (or only IDs in a window when asked) and reject corrupted packets. Real rxe captures:
// test_icrc_rxe_captures.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "rfab/udp/ipv4_id_solver.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/opcode.hpp"
#include "rfab/wire/packet.hpp"

namespace {
using namespace rfab;

struct Built {
  std::vector<uint8_t> udp_payload;  // BTH .. ICRC as the encoder computed it
  udp::Address src, dst;
};

Built build(bool v6, uint16_t ip_id, size_t payload_len, uint8_t opcode = 0x0A /* RC RDMA WRITE ONLY */) {
  wire::FrameSpec spec;
  spec.ipv6 = v6;
  spec.link = wire::LinkType::raw_ip;
  spec.src_port = 0xC123;
  spec.dst_port = 4791;
  Built b;
  b.src = *udp::Address::parse(v6 ? "fd00::1" : "10.1.2.3", spec.src_port);
  b.dst = *udp::Address::parse(v6 ? "fd00::2" : "10.1.2.4", spec.dst_port);
  if (v6) {
    std::memcpy(spec.ip6.src.data(), b.src.ip.data(), 16);
    std::memcpy(spec.ip6.dst.data(), b.dst.ip.data(), 16);
    spec.ip6.flow_label = 0x12345;  // masked by the ICRC: must not matter
    spec.ip6.hop_limit = 3;
  } else {
    spec.ip4.src = wire::load_be32(b.src.ip.data());
    spec.ip4.dst = wire::load_be32(b.dst.ip.data());
    spec.ip4.id = ip_id;
    spec.ip4.df = true;
    spec.ip4.ttl = 17;  // masked
    spec.ip4.ecn = wire::Ecn::ce;
  }
  wire::RoceFields f;
  f.bth.opcode = opcode;
  f.bth.dest_qp = 0x000123;
  f.bth.psn = 0xABCDEF;
  f.reth.va = 0x1000;
  f.reth.rkey = 0x77;
  f.reth.dma_len = static_cast<uint32_t>(payload_len);
  std::vector<uint8_t> payload(payload_len);
  for (size_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  std::vector<uint8_t> frame(wire::frame_encoded_len(spec, opcode, payload_len));
  auto n = wire::encode_frame(spec, f, payload, frame);
  EXPECT_TRUE(n.ok());
  const size_t ip_len = v6 ? 40 : 20;
  b.udp_payload.assign(frame.begin() + static_cast<long>(ip_len + 8), frame.end());
  return b;
}

TEST(WireIcrc, FillMatchesEncoderForIdZeroAndGsoIds) {
  for (bool v6 : {false, true}) {
    for (uint16_t id : {uint16_t{0}, uint16_t{1}, uint16_t{14}, uint16_t{63}}) {
      if (v6 && id != 0) continue;
      Built b = build(v6, id, 1000);
      std::vector<uint8_t> mine = b.udp_payload;
      std::memset(mine.data() + mine.size() - 4, 0, 4);
      udp::fill_icrc(b.src, b.dst, id, mine);
      EXPECT_EQ(mine, b.udp_payload) << "v6=" << v6 << " id=" << id;
    }
  }
}

// A gathered datagram (headers, payload and ICRC slot in three places) gets the ICRC of the whole one.
TEST(WireIcrc, GatherMatchesWholeDatagram) {
  for (bool v6 : {false, true}) {
    for (uint16_t id : {uint16_t{0}, uint16_t{5}}) {
      if (v6 && id != 0) continue;
      for (size_t len : {size_t{4}, size_t{256}, size_t{4096}}) {
        Built b = build(v6, id, len);
        const size_t hdr = b.udp_payload.size() - len - 4;  // BTH + RETH
        std::vector<uint8_t> headers(b.udp_payload.begin(), b.udp_payload.begin() + static_cast<long>(hdr));
        std::vector<uint8_t> payload(b.udp_payload.begin() + static_cast<long>(hdr), b.udp_payload.end() - 4);
        uint8_t icrc[4] = {};
        udp::fill_icrc_gather(b.src, b.dst, id, headers, payload, icrc);
        EXPECT_EQ(0, std::memcmp(icrc, b.udp_payload.data() + b.udp_payload.size() - 4, 4))
            << "v6=" << v6 << " id=" << id << " len=" << len;
      }
    }
  }
}

TEST(WireIcrc, VerifierRecoversIpv4IdInsideWindow) {
  udp::IcrcVerifier v(64);
  for (uint16_t id = 0; id < 64; ++id) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{255}, size_t{4096}}) {
      Built b = build(false, id, len);
      ASSERT_TRUE(v.verify(b.src, b.dst, b.udp_payload)) << "id " << id << " len " << len;
      EXPECT_EQ(v.last_ipv4_id(), id);
    }
  }
}

TEST(WireIcrc, HeaderCacheGivesTheEncodersIcrcAcrossSlotCollisions) {
  // One cache for IDs, lengths, both IP versions and two sources, visited in an order that evicts and
  // refills slots: every ICRC must still be the encoder's, for the contiguous and the gathered form.
  udp::IcrcHeaderCache cache;
  for (int round = 0; round < 3; ++round)
    for (bool v6 : {false, true})
      for (size_t len : {size_t{0}, size_t{17}, size_t{64}, size_t{4096}, size_t{4096 - 64 * 17}})
        for (uint16_t id : {uint16_t{0}, uint16_t{1}, uint16_t{15}, uint16_t{63}, uint16_t{64}}) {
          const uint16_t wire_id = v6 ? 0 : id;
          Built b = build(v6, wire_id, len);
          for (bool other_src : {false, true}) {
            udp::Address src = b.src;
            if (other_src) src.port = static_cast<uint16_t>(src.port + 1);
            std::vector<uint8_t> want = b.udp_payload, mine = b.udp_payload;
            udp::fill_icrc(src, b.dst, wire_id, want);
            udp::fill_icrc(cache, src, b.dst, wire_id, mine);
            ASSERT_EQ(mine, want) << "v6 " << v6 << " len " << len << " id " << id;
            if (!other_src) {
              ASSERT_EQ(mine, b.udp_payload);
            }
            const size_t hdr = 12 + 16;  // BTH + RETH of a WRITE ONLY
            uint8_t slot[4];
            udp::fill_icrc_gather(cache, src, b.dst, wire_id, std::span<const uint8_t>(mine).first(hdr),
                                  std::span<const uint8_t>(mine).subspan(hdr, mine.size() - hdr - 4), slot);
            ASSERT_EQ(0, std::memcmp(slot, want.data() + want.size() - 4, 4)) << "gathered, len " << len;
          }
        }
}

TEST(WireIcrc, SolverMultiplyAgreesWithTheBitSerialReference) {
  // The solver's fast GF(2) multiply (carry-less where the CPU has it) against zlib's bit-serial one.
  uint64_t s = 0x9E3779B97F4A7C15ull;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s);
  };
  const uint32_t edges[] = {0u, 1u, 0x80000000u, 0xFFFFFFFFu, 0xEDB88320u, 0x0000FFFFu, 0xFFFF0000u};
  for (uint32_t a : edges)
    for (uint32_t b : edges) ASSERT_EQ(udp::Ipv4IdSolver::multiply(a, b), udp::Ipv4IdSolver::multiply_portable(a, b));
  for (int i = 0; i < 100000; ++i) {
    const uint32_t a = next(), b = next();
    ASSERT_EQ(udp::Ipv4IdSolver::multiply(a, b), udp::Ipv4IdSolver::multiply_portable(a, b)) << a << " * " << b;
  }
}

TEST(WireIcrc, DefaultVerifierSolvesAnyIpv4Id) {
  udp::IcrcVerifier v;  // kAnyIpv4Id
  std::vector<uint16_t> ids = {0x0001, 0x00FF, 0x0100, 0x7FFF, 0x8000, 0xFF00, 0xFFFE, 0xFFFF};
  for (uint32_t id = 0; id < 65536; id += 97) ids.push_back(static_cast<uint16_t>(id));
  for (uint16_t id : ids) {
    for (size_t len : {size_t{0}, size_t{3}, size_t{1024}, size_t{4096}}) {
      Built b = build(false, id, len);
      ASSERT_TRUE(v.verify(b.src, b.dst, b.udp_payload)) << "id " << id << " len " << len;
      ASSERT_EQ(v.last_ipv4_id(), id) << "len " << len;
    }
  }
}

TEST(WireIcrc, RfabGsoSegmentsVerifyWithTheirSegmentIndex) {
  // What rfab's own sender writes: fill_icrc for segment i of a GSO send, ID i.
  udp::IcrcVerifier any, gso(udp::kMaxGsoSegments);
  for (uint16_t id = 0; id < udp::kMaxGsoSegments; ++id) {
    Built b = build(false, 0, 4096, 0x07 /* RC RDMA WRITE MIDDLE */);
    std::memset(b.udp_payload.data() + b.udp_payload.size() - 4, 0, 4);
    udp::fill_icrc(b.src, b.dst, id, b.udp_payload);
    ASSERT_TRUE(any.verify(b.src, b.dst, b.udp_payload)) << id;
    EXPECT_EQ(any.last_ipv4_id(), id);
    ASSERT_TRUE(gso.verify(b.src, b.dst, b.udp_payload)) << id;
    EXPECT_EQ(gso.last_ipv4_id(), id);
  }
}

TEST(WireIcrc, EveryFlippedBitNearTheHeadersIsRejectedWithAnyId) {
  // With any ID allowed, a flipped bit within 16 bits of the ID would be a burst of <= 32 bits, which
  // CRC-32 always detects; farther away a collision has probability 2^-16 per flip. This packet's flips
  // are deterministic: none of its 1600 flips collides (a wrong solver would accept many).
  udp::IcrcVerifier v;
  Built b = build(false, 0x1234, 200);
  ASSERT_TRUE(v.verify(b.src, b.dst, b.udp_payload));
  size_t accepted = 0;
  for (size_t bit = 0; bit < b.udp_payload.size() * 8; ++bit) {
    if (bit / 8 == 4) continue;
    auto c = b.udp_payload;
    c[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    accepted += v.verify(b.src, b.dst, c);
  }
  EXPECT_EQ(accepted, 0u);
}

TEST(WireIcrc, VerifierRejectsIdsOutsideWindow) {
  udp::IcrcVerifier v(64);
  for (uint16_t id : {uint16_t{64}, uint16_t{1000}, uint16_t{0xFFFF}}) {
    Built b = build(false, id, 512);
    EXPECT_FALSE(v.verify(b.src, b.dst, b.udp_payload)) << id;
  }
  udp::IcrcVerifier w1000(1000);
  EXPECT_TRUE(w1000.verify(build(false, 999, 64).src, build(false, 999, 64).dst, build(false, 999, 64).udp_payload));
  EXPECT_FALSE(w1000.verify(build(false, 1000, 64).src, build(false, 1000, 64).dst, build(false, 1000, 64).udp_payload));
  udp::IcrcVerifier strict(1);
  EXPECT_FALSE(strict.verify(build(false, 1, 64).src, build(false, 1, 64).dst, build(false, 1, 64).udp_payload));
  EXPECT_TRUE(strict.verify(build(false, 0, 64).src, build(false, 0, 64).dst, build(false, 0, 64).udp_payload));
}

TEST(WireIcrc, EveryFlippedBitIsRejected) {
  udp::IcrcVerifier v(64);
  for (bool v6 : {false, true}) {
    Built b = build(v6, 0, 200);
    ASSERT_TRUE(v.verify(b.src, b.dst, b.udp_payload));
    for (size_t bit = 0; bit < b.udp_payload.size() * 8; ++bit) {
      if (bit / 8 == 4) continue;  // BTH byte 4 (FECN/BECN/reserved) is masked by the ICRC
      auto c = b.udp_payload;
      c[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(v.verify(b.src, b.dst, c)) << "v6=" << v6 << " bit " << bit;
    }
  }
}

TEST(WireIcrc, WrongAddressOrPortIsRejected) {
  udp::IcrcVerifier v;
  Built b = build(false, 3, 100);
  EXPECT_TRUE(v.verify(b.src, b.dst, b.udp_payload));
  EXPECT_FALSE(v.verify(b.src.with_port(0xC124), b.dst, b.udp_payload));
  EXPECT_FALSE(v.verify(b.src, b.dst.with_port(4792), b.udp_payload));
  EXPECT_FALSE(v.verify(*udp::Address::parse("10.1.2.9", b.src.port), b.dst, b.udp_payload));
  Built s = build(true, 0, 100);
  EXPECT_FALSE(v.verify(*udp::Address::parse("fd00::9", s.src.port), s.dst, s.udp_payload));
}

TEST(WireIcrc, TooShortIsRejected) {
  udp::IcrcVerifier v;
  const std::vector<uint8_t> tiny(10);
  EXPECT_FALSE(v.verify(*udp::Address::parse("1.2.3.4", 1), *udp::Address::parse("1.2.3.5", 2), tiny));
}

}  // namespace

// verify_copy (the check folded into the payload copy) gives verify's verdict and recovered ID, and copies
// the payload whatever the verdict: on WRITE MIDDLE/LAST packets (BTH + payload + pad) of many lengths, IPv4 with GSO IDs and IPv6, intact and with every bit of a sample flipped.
TEST(WireIcrc, VerifyCopyAgreesWithVerifyAndCopies) {
  udp::IcrcVerifier v(64), vc(64);
  for (bool v6 : {false, true})
    for (size_t len : {1, 3, 63, 64, 65, 255, 256, 257, 1021, 4096, 4099}) {
      const auto id = static_cast<uint16_t>(v6 ? 0 : len % 15);
      // MIDDLE packets carry no pad: the other lengths as LAST.
      Built b = build(v6, id, len, len % 4 == 0 ? 0x07 /* RC RDMA WRITE MIDDLE */ : 0x08 /* LAST */);
      auto dec = wire::decode_roce(b.udp_payload);
      ASSERT_TRUE(dec.ok()) << "len " << len << ": " << dec.error().message();
      ASSERT_EQ(dec->payload.size(), len);
      const size_t at = static_cast<size_t>(dec->payload.data() - b.udp_payload.data());
      for (size_t bit = 0; bit <= b.udp_payload.size() * 8; bit += (bit < 64 * 8 ? 1 : 97)) {
        auto c = b.udp_payload;
        const bool flip = bit < c.size() * 8 && bit / 8 != 4;  // BTH byte 4 is masked by the ICRC
        if (flip) c[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        std::vector<uint8_t> out(len + 2, 0xA5);
        const std::span<const uint8_t> payload(c.data() + at, len);
        const bool want = v.verify(b.src, b.dst, c);
        ASSERT_EQ(want, !flip) << "v6=" << v6 << " len " << len << " bit " << bit;
        ASSERT_EQ(vc.verify_copy(b.src, b.dst, c, payload, out.data() + 1), want)
            << "v6=" << v6 << " len " << len << " bit " << bit;
        if (want) {
          ASSERT_EQ(vc.last_ipv4_id(), id);
        }
        ASSERT_TRUE(std::equal(payload.begin(), payload.end(), out.begin() + 1)) << len;
        ASSERT_EQ(out.front(), 0xA5);
        ASSERT_EQ(out.back(), 0xA5);
      }
    }
}
