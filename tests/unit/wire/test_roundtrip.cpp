// Every opcode through encode -> decode, over IPv4, IPv6 and VLAN-tagged Ethernet.
#include <gtest/gtest.h>

#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"
#include "rfab/wire/sample.hpp"

using namespace rfab::wire;

namespace {

void expect_same(const RoceFields& a, const RoceFields& b) {
  EXPECT_EQ(a.bth.opcode, b.bth.opcode);
  EXPECT_EQ(a.bth.se, b.bth.se);
  EXPECT_EQ(a.bth.mig, b.bth.mig);
  EXPECT_EQ(a.bth.pkey, b.bth.pkey);
  EXPECT_EQ(a.bth.dest_qp, b.bth.dest_qp);
  EXPECT_EQ(a.bth.ack_req, b.bth.ack_req);
  EXPECT_EQ(a.bth.psn, b.bth.psn);
  EXPECT_EQ(a.headers, b.headers);
  if (a.has(kDeth)) {
    EXPECT_EQ(a.deth.qkey, b.deth.qkey);
    EXPECT_EQ(a.deth.src_qp, b.deth.src_qp);
  }
  if (a.has(kReth)) {
    EXPECT_EQ(a.reth.va, b.reth.va);
    EXPECT_EQ(a.reth.rkey, b.reth.rkey);
    EXPECT_EQ(a.reth.dma_len, b.reth.dma_len);
  }
  if (a.has(kAtomicEth)) {
    EXPECT_EQ(a.atomic.va, b.atomic.va);
    EXPECT_EQ(a.atomic.rkey, b.atomic.rkey);
    EXPECT_EQ(a.atomic.swap_add, b.atomic.swap_add);
    EXPECT_EQ(a.atomic.compare, b.atomic.compare);
  }
  if (a.has(kAeth)) {
    EXPECT_EQ(a.aeth.syndrome, b.aeth.syndrome);
    EXPECT_EQ(a.aeth.msn, b.aeth.msn);
  }
  if (a.has(kAtomicAckEth)) {
    EXPECT_EQ(a.atomic_ack.orig, b.atomic_ack.orig);
  }
  if (a.has(kImmDt)) {
    EXPECT_EQ(a.imm, b.imm);
  }
  if (a.has(kIeth)) {
    EXPECT_EQ(a.ieth_rkey, b.ieth_rkey);
  }
}

void roundtrip(const SampleOptions& opt) {
  auto frames = sample_every_opcode(opt);
  ASSERT_EQ(frames.size(), size_t(opcode_table_end() - opcode_table_begin()));
  for (const auto& s : frames) {
    SCOPED_TRACE(std::string(opcode_info(s.fields.bth.opcode)->name));
    auto fr = decode_frame(s.bytes);
    ASSERT_TRUE(fr) << fr.error().message();
    expect_same(s.fields, fr->roce.f);
    EXPECT_EQ(fr->ipv6, opt.ipv6);
    EXPECT_EQ(fr->ecn(), opt.ecn);
    EXPECT_EQ(fr->eth.vlan_count, opt.vlan >= 0 ? 1 : 0);
    if (opt.vlan >= 0) {
      EXPECT_EQ(fr->eth.vlan[0].vid, opt.vlan);
      EXPECT_EQ(fr->eth.vlan[0].pcp, opt.pcp);
    }
    EXPECT_EQ(fr->udp.dst_port, kRoceV2Port);
    EXPECT_EQ(fr->udp.src_port, s.spec.src_port);
    ASSERT_EQ(fr->roce.payload.size(), s.payload.size());
    EXPECT_TRUE(std::equal(s.payload.begin(), s.payload.end(), fr->roce.payload.begin()));
    EXPECT_EQ(fr->roce.f.bth.pad, (4 - s.payload.size() % 4) % 4);
    EXPECT_TRUE(frame_icrc_ok(*fr));
    if (!opt.ipv6) {  // IPv4 header checksum is valid
      EXPECT_EQ(ipv4_header_checksum(s.bytes.data() + fr->l3_offset, 20), fr->ip4.checksum);
    }
  }
}

}  // namespace

TEST(RoundTrip, EveryOpcodeIpv4) { roundtrip({}); }
TEST(RoundTrip, EveryOpcodeIpv6) { roundtrip({.ipv6 = true}); }
TEST(RoundTrip, EveryOpcodeVlanTagged) { roundtrip({.vlan = 100, .pcp = 5}); }
TEST(RoundTrip, EveryOpcodeCeMarked) { roundtrip({.ecn = Ecn::ce}); }

TEST(RoundTrip, OpcodeTableShape) {
  // Spot checks against IBTA table 35 / rxe_opcode.c.
  EXPECT_EQ(opcode_info(op::RC_WRITE_ONLY_IMM)->headers, kReth | kImmDt);
  EXPECT_EQ(opcode_info(op::RC_ATOMIC_ACK)->headers, kAeth | kAtomicAckEth);
  EXPECT_EQ(opcode_info(op::RC_READ_RESPONSE_MIDDLE)->headers, 0);
  EXPECT_FALSE(opcode_info(op::RC_READ_REQUEST)->payload);
  EXPECT_EQ(opcode_info(op::UD_SEND_ONLY_IMM)->headers, kDeth | kImmDt);
  EXPECT_EQ(opcode_info(op::CNP)->headers, kCnpPad);
  EXPECT_EQ(opcode_info(0x15), nullptr);
  EXPECT_EQ(opcode_info(0x40), nullptr);  // RD not supported
  EXPECT_EQ(roce_encoded_len(op::CNP, 0), 12u + 16u + 4u);
  EXPECT_EQ(roce_encoded_len(op::RC_ATOMIC_ACK, 0), 12u + 4u + 8u + 4u);
}

TEST(RoundTrip, ZeroLengthSendAndMaxSizes) {
  RoceFields f;
  f.bth.opcode = op::RC_SEND_ONLY;
  f.bth.psn = 0xFFFFFF;
  f.bth.dest_qp = 0xFFFFFF;
  FrameSpec spec;
  std::vector<uint8_t> out(frame_encoded_len(spec, f.bth.opcode, 0));
  ASSERT_TRUE(encode_frame(spec, f, {}, out));
  auto fr = decode_frame(out);
  ASSERT_TRUE(fr) << fr.error().message();
  EXPECT_EQ(fr->roce.payload.size(), 0u);
  EXPECT_EQ(fr->roce.f.bth.psn, 0xFFFFFFu);
  EXPECT_EQ(fr->roce.f.bth.dest_qp, 0xFFFFFFu);

  std::vector<uint8_t> big(4096, 0xAB);
  f.bth.opcode = op::RC_WRITE_MIDDLE;
  out.resize(frame_encoded_len(spec, f.bth.opcode, big.size()));
  ASSERT_TRUE(encode_frame(spec, f, big, out));
  fr = decode_frame(out);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->roce.payload.size(), 4096u);
  EXPECT_TRUE(frame_icrc_ok(*fr));
}

TEST(RoundTrip, EncoderRejectsBadRequests) {
  RoceFields f;
  f.bth.opcode = 0x15;
  std::vector<uint8_t> out(256);
  EXPECT_EQ(encode_roce(f, {}, out).error().code, Errc::unknown_opcode);
  f.bth.opcode = op::RC_ACK;
  uint8_t one = 1;
  EXPECT_EQ(encode_roce(f, std::span<const uint8_t>(&one, 1), out).error().code, Errc::bad_payload);
  f.bth.opcode = op::RC_SEND_ONLY;
  std::vector<uint8_t> small(10);
  auto r = encode_roce(f, {}, small);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::no_space);
  EXPECT_EQ(r.error().need, 16u);
}
