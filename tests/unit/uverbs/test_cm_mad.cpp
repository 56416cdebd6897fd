// The IB CM MAD codec (cm_mad.hpp) and QP1 framing (cm_gsi.hpp): MADs captured from Linux rdma_rxe in the
// soft-RoCE lab (rping between two guests, and the guest's REJ to the provider) decode to the values the
// kernel sent and encode back byte for byte; round trips keep every field; malformed MADs and packets
// are refused with a reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cm_gsi.hpp"
#include "cm_mad.hpp"
#include "rfab/udp/wire_icrc.hpp"

using namespace rfab::uverbs;

namespace {

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> b;
  for (size_t i = 0; i + 1 < s.size(); i += 2) b.push_back(uint8_t(std::stoi(s.substr(i, 2), nullptr, 16)));
  return b;
}

// rxe's REQ as it left 10.77.0.2:55410 for 10.77.0.1:4791 (BTH, DETH, MAD, ICRC): rping -c to port 7174.
const std::vector<uint8_t> kRxeReqPacket = unhex(
    "6400ffff00000001800000008001000000000001010702030000000000000002dba42e250010000000000000252ea4db"
    "000000000000000001061c06505400fffe77000200000000000000000000110100000001000000a037ec27a7ffff37f0"
    "ffffffff00000000000000000000ffff0a4d000200000000000000000000ffff0a4d00010878d0000040009800000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000040879900000000"
    "00000000000000000a4d00020000000000000000000000000a4d00010000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000045a1dc6d");
// The guest's REP to it, and its DREQ later.
const std::vector<uint8_t> kRxeRep = unhex(
    "010702030000000000000002dba42e2500130000000000003e98f6ad252ea4db000000000000110000000000fdafae00"
    "010178e0505400fffe770001000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000");
const std::vector<uint8_t> kRxeDreq = unhex(
    "010702030000000000000002dba42e250015000000000000252ea4db3e98f6ad00001100000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000");
// The guest's REJ to the provider's REQ for a port nobody listens on.
const std::vector<uint8_t> kRxeRej = unhex(
    "0107020300000000dd341432549b89a2001200000000000000000000549b89a200000008000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000");

std::vector<uint8_t> mad_of_rxe_req() {
  return std::vector<uint8_t>(kRxeReqPacket.begin() + 20, kRxeReqPacket.begin() + 276);
}

std::vector<uint8_t> reencode(const std::vector<uint8_t>& mad) {
  const char* why = nullptr;
  auto m = ibcm::decode(mad, &why);
  EXPECT_TRUE(m) << why;
  if (!m) return {};
  auto e = ibcm::encode(*m);
  EXPECT_TRUE(e);
  return e ? std::vector<uint8_t>(e->begin(), e->end()) : std::vector<uint8_t>{};
}

}  // namespace

TEST(CmMad, KernelReqDecodesToWhatRpingAskedFor) {
  const char* why = nullptr;
  auto span = gsi::mad_of(kRxeReqPacket, &why);
  ASSERT_TRUE(span) << why;
  auto m = ibcm::decode(*span, &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->attr, ibcm::Attr::kReq);
  EXPECT_EQ(m->tid, 0x00000002dba42e25ull);
  EXPECT_EQ(m->local_comm_id, 0x252ea4dbu);
  EXPECT_EQ(m->remote_comm_id, 0u);
  EXPECT_EQ(m->service_id, ibcm::service_id_for_port(7174));
  EXPECT_EQ(m->local_qkey, 0u);  // what the kernel writes for RC: the rfab mark never collides with it
  EXPECT_EQ(m->local_qpn, 0x11u);
  EXPECT_EQ(m->responder_resources, 1);
  EXPECT_EQ(m->initiator_depth, 1);
  EXPECT_EQ(m->starting_psn, 0x37ec27u);
  EXPECT_EQ(m->remote_cm_response_timeout, 20);
  EXPECT_EQ(m->local_cm_response_timeout, 20);
  EXPECT_EQ(m->retry_count, 7);
  EXPECT_EQ(m->rnr_retry_count, 7);
  EXPECT_EQ(m->pkey, 0xffff);
  EXPECT_EQ(m->path_mtu, 3);  // IBV_MTU_1024
  EXPECT_EQ(m->max_cm_retries, 15);
  EXPECT_FALSE(m->srq);
  EXPECT_EQ(m->hop_limit, 64);
  EXPECT_EQ(m->local_ack_timeout, 19);
  const std::array<uint8_t, 16> g2{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2};
  const std::array<uint8_t, 16> g1{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 1};
  EXPECT_EQ(m->primary_local_gid, g2);
  EXPECT_EQ(m->primary_remote_gid, g1);
  ASSERT_EQ(m->private_data.size(), 92u);
  auto cma = ibcm::decode_cma_header(m->private_data, &why);
  ASSERT_TRUE(cma) << why;
  EXPECT_FALSE(cma->ipv6);
  EXPECT_EQ(cma->src_port, 0x8799);
  EXPECT_EQ(std::vector<uint8_t>(cma->src_ip.begin() + 12, cma->src_ip.end()), (std::vector<uint8_t>{10, 77, 0, 2}));
  EXPECT_EQ(std::vector<uint8_t>(cma->dst_ip.begin() + 12, cma->dst_ip.end()), (std::vector<uint8_t>{10, 77, 0, 1}));
}

TEST(CmMad, KernelMadsEncodeBackByteForByte) {
  EXPECT_EQ(reencode(mad_of_rxe_req()), mad_of_rxe_req());
  EXPECT_EQ(reencode(kRxeRep), kRxeRep);
  EXPECT_EQ(reencode(kRxeRej), kRxeRej);
  EXPECT_EQ(reencode(kRxeDreq), kRxeDreq);
}

TEST(CmMad, KernelRepRejAndDreqCarryTheirFields) {
  auto rep = ibcm::decode(kRxeRep, nullptr);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->attr, ibcm::Attr::kRep);
  EXPECT_EQ(rep->local_comm_id, 0x3e98f6adu);
  EXPECT_EQ(rep->remote_comm_id, 0x252ea4dbu);
  EXPECT_EQ(rep->local_qpn, 0x11u);
  EXPECT_EQ(rep->starting_psn, 0xfdafaeu);
  EXPECT_EQ(rep->target_ack_delay, 15);
  EXPECT_EQ(rep->rnr_retry_count, 7);
  auto rej = ibcm::decode(kRxeRej, nullptr);
  ASSERT_TRUE(rej);
  EXPECT_EQ(rej->attr, ibcm::Attr::kRej);
  EXPECT_EQ(rej->reason, ibcm::kRejInvalidServiceId);
  EXPECT_EQ(rej->message, ibcm::kMsgReq);
  EXPECT_EQ(rej->local_comm_id, 0u);  // nobody listens: no connection on the kernel's side
  auto dreq = ibcm::decode(kRxeDreq, nullptr);
  ASSERT_TRUE(dreq);
  EXPECT_EQ(dreq->attr, ibcm::Attr::kDreq);
  EXPECT_EQ(dreq->remote_qpn, 0x11u);
}

TEST(CmMad, RoundTripKeepsEveryFieldOfEachAttribute) {
  for (ibcm::Attr a : {ibcm::Attr::kReq, ibcm::Attr::kMra, ibcm::Attr::kRej, ibcm::Attr::kRep, ibcm::Attr::kRtu,
                       ibcm::Attr::kDreq, ibcm::Attr::kDrep}) {
    ibcm::CmMad m;
    m.attr = a;
    m.tid = 0x0102030405060708ull;
    m.local_comm_id = 0xa1b2c3d4;
    m.remote_comm_id = 0x11223344;
    m.service_id = ibcm::service_id_for_port(18515);
    m.local_ca_guid = 0x0011223344556677ull;
    m.local_qkey = ibcm::kRfabQkey;
    m.local_qpn = 0xabcdef;
    m.responder_resources = 16;
    m.initiator_depth = 8;
    m.starting_psn = 0x123456;
    m.retry_count = 5;
    m.rnr_retry_count = 6;
    m.path_mtu = 5;
    m.srq = true;
    m.primary_local_gid[15] = 1;
    m.primary_remote_gid[15] = 2;
    m.flow_label = 0xabcde;
    m.traffic_class = 0x68;
    m.local_ack_timeout = 18;
    m.target_ack_delay = 9;
    m.message = ibcm::kMsgRep;
    m.reason = ibcm::kRejConsumer;
    m.service_timeout = 17;
    m.remote_qpn = 0x654321;
    m.private_data = {9, 8, 7};
    auto e = ibcm::encode(m);
    ASSERT_TRUE(e) << ibcm::attr_name(a);
    const char* why = nullptr;
    auto d = ibcm::decode(*e, &why);
    ASSERT_TRUE(d) << ibcm::attr_name(a) << ": " << why;
    EXPECT_EQ(d->attr, a);
    EXPECT_EQ(d->tid, m.tid);
    EXPECT_EQ(d->local_comm_id, m.local_comm_id);
    EXPECT_EQ(d->remote_comm_id, m.remote_comm_id);
    ASSERT_EQ(d->private_data.size(), ibcm::private_data_size(a));
    EXPECT_EQ(std::vector<uint8_t>(d->private_data.begin(), d->private_data.begin() + 3), m.private_data);
    if (a == ibcm::Attr::kReq) {
      EXPECT_EQ(d->service_id, m.service_id);
      EXPECT_EQ(d->local_ca_guid, m.local_ca_guid);
      EXPECT_EQ(d->local_qkey, ibcm::kRfabQkey);
      EXPECT_EQ(d->local_qpn, m.local_qpn);
      EXPECT_EQ(d->responder_resources, 16);
      EXPECT_EQ(d->initiator_depth, 8);
      EXPECT_EQ(d->starting_psn, m.starting_psn);
      EXPECT_EQ(d->retry_count, 5);
      EXPECT_EQ(d->rnr_retry_count, 6);
      EXPECT_EQ(d->path_mtu, 5);
      EXPECT_TRUE(d->srq);
      EXPECT_EQ(d->primary_local_gid, m.primary_local_gid);
      EXPECT_EQ(d->primary_remote_gid, m.primary_remote_gid);
      EXPECT_EQ(d->flow_label, m.flow_label);
      EXPECT_EQ(d->traffic_class, 0x68);
      EXPECT_EQ(d->local_ack_timeout, 18);
    }
    if (a == ibcm::Attr::kRep) {
      EXPECT_EQ(d->local_qpn, m.local_qpn);
      EXPECT_EQ(d->starting_psn, m.starting_psn);
      EXPECT_EQ(d->responder_resources, 16);
      EXPECT_EQ(d->initiator_depth, 8);
      EXPECT_EQ(d->target_ack_delay, 9);
      EXPECT_EQ(d->rnr_retry_count, 6);
      EXPECT_TRUE(d->srq);
      EXPECT_EQ(d->local_ca_guid, m.local_ca_guid);
    }
    if (a == ibcm::Attr::kRej) {
      EXPECT_EQ(d->message, ibcm::kMsgRep);
      EXPECT_EQ(d->reason, ibcm::kRejConsumer);
    }
    if (a == ibcm::Attr::kMra) {
      EXPECT_EQ(d->message, ibcm::kMsgRep);
      EXPECT_EQ(d->service_timeout, 17);
    }
    if (a == ibcm::Attr::kDreq) {
      EXPECT_EQ(d->remote_qpn, m.remote_qpn);
    }
  }
}

TEST(CmMad, PrivateDataLongerThanTheAttributeHoldsIsNotEncoded) {
  ibcm::CmMad m;
  m.attr = ibcm::Attr::kReq;
  m.path_mtu = 3;
  m.private_data.assign(92, 1);
  EXPECT_TRUE(ibcm::encode(m));
  m.private_data.assign(93, 1);
  EXPECT_FALSE(ibcm::encode(m));
  m.attr = ibcm::Attr::kRep;
  m.private_data.assign(196, 1);
  EXPECT_TRUE(ibcm::encode(m));
  m.private_data.assign(197, 1);
  EXPECT_FALSE(ibcm::encode(m));
}

TEST(CmMad, MalformedMadsAreRefusedWithAReason) {
  struct Case {
    size_t offset;
    uint8_t value;
    std::string reason;
  };
  const std::vector<uint8_t> good = mad_of_rxe_req();
  for (const Case& c : {Case{0, 2, "base version"}, Case{1, 0x04, "management class"}, Case{2, 1, "class version"},
                        Case{3, 0x81, "method"}, Case{17, 0x17, "unknown CM attribute"},
                        Case{24 + 43, 0xa2, "transport service type"}, Case{24 + 50, 0x07, "path MTU"},
                        Case{24 + 50, 0x67, "path MTU"}}) {
    std::vector<uint8_t> bad = good;
    bad[c.offset] = c.value;
    const char* why = nullptr;
    EXPECT_FALSE(ibcm::decode(bad, &why)) << c.reason;
    ASSERT_NE(why, nullptr) << c.reason;
    EXPECT_NE(std::string(why).find(c.reason), std::string::npos) << why;
  }
  const char* why = nullptr;
  EXPECT_FALSE(ibcm::decode(std::vector<uint8_t>(good.begin(), good.end() - 1), &why));
  EXPECT_NE(std::string(why).find("256 bytes"), std::string::npos) << why;
  std::vector<uint8_t> rej = kRxeRej;
  rej[24 + 8] = 0xc0;  // message rejected: 3 is reserved
  EXPECT_FALSE(ibcm::decode(rej, &why));
  EXPECT_NE(std::string(why).find("reserved"), std::string::npos) << why;
  std::vector<uint8_t> req = good;
  std::fill(req.begin() + 24, req.begin() + 28, 0);  // a REQ without a communication ID
  EXPECT_FALSE(ibcm::decode(req, &why));
  EXPECT_NE(std::string(why).find("communication ID"), std::string::npos) << why;
}

TEST(CmMad, CmaHeaderRoundTripAndRefusals) {
  ibcm::CmaHeader h;
  h.ipv6 = true;
  h.src_port = 40000;
  h.src_ip[0] = 0xfd;
  h.dst_ip[15] = 7;
  const auto b = ibcm::encode_cma_header(h);
  const char* why = nullptr;
  auto d = ibcm::decode_cma_header(b, &why);
  ASSERT_TRUE(d) << why;
  EXPECT_TRUE(d->ipv6);
  EXPECT_EQ(d->src_port, 40000);
  EXPECT_EQ(d->src_ip, h.src_ip);
  EXPECT_EQ(d->dst_ip, h.dst_ip);
  EXPECT_FALSE(ibcm::decode_cma_header(std::span<const uint8_t>(b.data(), 35), &why));
  EXPECT_NE(std::string(why).find("shorter"), std::string::npos);
  auto v = b;
  v[0] = 1;
  EXPECT_FALSE(ibcm::decode_cma_header(v, &why));
  EXPECT_NE(std::string(why).find("version"), std::string::npos);
  v = b;
  v[1] = 0x50;
  EXPECT_FALSE(ibcm::decode_cma_header(v, &why));
  EXPECT_NE(std::string(why).find("IP version"), std::string::npos);
}

TEST(CmGsi, FramedMadIsAUdSendToQp1WithAValidIcrc) {
  const auto src = rfab::udp::Address::parse("10.77.0.254", 40000).value();
  const auto dst = rfab::udp::Address::parse("10.77.0.1", 4791).value();
  std::array<uint8_t, ibcm::kMadSize> mad{};
  std::copy(kRxeRep.begin(), kRxeRep.end(), mad.begin());
  const auto p = gsi::frame(mad, 5, src, dst);
  ASSERT_EQ(p.size(), gsi::kPacketSize);
  rfab::udp::IcrcVerifier exact(1);  // IPv4 ID 0 only: what an unconnected DF socket sends
  EXPECT_TRUE(exact.verify(src, dst, p));
  const char* why = nullptr;
  auto span = gsi::mad_of(p, &why);
  ASSERT_TRUE(span) << why;
  EXPECT_TRUE(std::equal(span->begin(), span->end(), mad.begin()));
  // rxe's own packet: its ICRC checks out for its addresses (with the IPv4 ID it chose).
  rfab::udp::IcrcVerifier any;
  EXPECT_TRUE(any.verify(rfab::udp::Address::parse("10.77.0.2", 55410).value(), dst, kRxeReqPacket));
}

TEST(CmGsi, PacketsThatAreNotCmMadsOnQp1AreRefused) {
  struct Case {
    size_t offset;
    uint8_t value;
    std::string reason;
  };
  for (const Case& c : {Case{0, 0x04, "UD SEND_ONLY"}, Case{7, 0x02, "QP 1"}, Case{1, 0x10, "pad"},
                        Case{12, 0x00, "Q_Key"}}) {
    std::vector<uint8_t> bad = kRxeReqPacket;
    bad[c.offset] = c.value;
    const char* why = nullptr;
    EXPECT_FALSE(gsi::mad_of(bad, &why)) << c.reason;
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find(c.reason), std::string::npos) << why;
  }
  const char* why = nullptr;
  EXPECT_FALSE(gsi::mad_of(std::span<const uint8_t>(kRxeReqPacket.data(), 100), &why));
  EXPECT_NE(std::string(why).find("256-byte MAD"), std::string::npos) << why;
}
