// The bytes that cross the network or NCCL's bootstrap: the listen handle and the connection record; the
// interface filter's syntax; the plugin's configuration.
#include <gtest/gtest.h>

#include <cstring>

#include "config.hpp"
#include "conn_record.hpp"
#include "handle.hpp"
#include "interfaces.hpp"
#include "protocol.hpp"
#include "rfab/base/env.hpp"

namespace rfab::ncclnet {
namespace {

ListenHandle sample_handle(bool v6) {
  ListenHandle h;
  h.tcp = *udp::Address::parse(v6 ? "fd77:3::2" : "10.77.3.1", 40123);
  h.nonce = 0xDEADBEEF;
  h.device = 2;
  return h;
}

TEST(NcclNetHandle, RoundTripsBothIpVersions) {
  for (bool v6 : {false, true}) {
    uint8_t buf[kHandleBytes];
    std::memset(buf, 0xEE, sizeof buf);
    encode_handle(sample_handle(v6), buf);
    std::string why;
    const auto h = decode_handle(buf, why);
    ASSERT_TRUE(h) << why;
    EXPECT_EQ(h->tcp, sample_handle(v6).tcp);
    EXPECT_EQ(h->nonce, 0xDEADBEEFu);
    EXPECT_EQ(h->device, 2);
    EXPECT_EQ(stage(buf), nullptr) << "listen must leave no connect state behind";
  }
}

TEST(NcclNetHandle, FixedByteOrderOnTheWire) {
  uint8_t buf[kHandleBytes];
  encode_handle(sample_handle(false), buf);
  EXPECT_EQ(0, std::memcmp(buf, "RFNH", 4));
  EXPECT_EQ(buf[6], 4);
  EXPECT_EQ(buf[8], 10);
  EXPECT_EQ(buf[24], 40123 >> 8);
  EXPECT_EQ(buf[25], 40123 & 0xFF);
  EXPECT_EQ(buf[28], 0xDE);
}

TEST(NcclNetHandle, RefusesWhatIsNotAHandle) {
  auto refused = [](auto mutate, const char* needle) {
    uint8_t buf[kHandleBytes];
    encode_handle(sample_handle(false), buf);
    mutate(buf);
    std::string why;
    EXPECT_FALSE(decode_handle(buf, why));
    EXPECT_NE(why.find(needle), std::string::npos) << why;
  };
  refused([](uint8_t* b) { std::memset(b, 0, kHandleBytes); }, "bad magic");
  refused([](uint8_t* b) { b[5] = 9; }, "version 9");
  refused([](uint8_t* b) { b[6] = 5; }, "IP version 5");
  refused([](uint8_t* b) { b[14] = 1; }, "malformed IPv4");
  refused([](uint8_t* b) { b[24] = b[25] = 0; }, "port 0");
}

TEST(NcclNetHandle, KeepsConnectStateInTheHandle) {
  uint8_t buf[kHandleBytes];
  encode_handle(sample_handle(false), buf);
  int marker = 0;
  set_stage(buf, &marker);
  EXPECT_EQ(stage(buf), &marker);
  std::string why;
  EXPECT_TRUE(decode_handle(buf, why)) << "the stage must not disturb the address part";
  set_stage(buf, nullptr);
  EXPECT_EQ(stage(buf), nullptr);
}

ConnRecord sample_record() {
  ConnRecord r;
  r.role = Role::receiver;
  r.selective_recovery = true;
  r.nonce = 77;
  r.qpn = 0xABCDE;
  r.psn = 0xFFFFFF;
  r.mtu = 4096;
  r.roce = *udp::Address::parse("fd77:9::1", 51000);
  return r;
}

TEST(NcclNetRecord, RoundTrips) {
  std::string why;
  const auto r = decode_record(encode_record(sample_record()), why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->role, Role::receiver);
  EXPECT_TRUE(r->selective_recovery);
  EXPECT_EQ(r->nonce, 77u);
  EXPECT_EQ(r->qpn, 0xABCDEu);
  EXPECT_EQ(r->psn, 0xFFFFFFu);
  EXPECT_EQ(r->mtu, 4096u);
  EXPECT_EQ(r->roce, sample_record().roce);
}

TEST(NcclNetRecord, RefusesEachBadField) {
  auto refused = [](auto mutate, const char* needle) {
    ConnRecord r = sample_record();
    RecordBytes b = encode_record(r);
    mutate(r, b);
    std::string why;
    EXPECT_FALSE(decode_record(b, why));
    EXPECT_NE(why.find(needle), std::string::npos) << why;
  };
  refused([](ConnRecord&, RecordBytes& b) { b[0] = 'X'; }, "bad magic");
  refused([](ConnRecord&, RecordBytes& b) { b[4] = 2; }, "record version");
  refused([](ConnRecord&, RecordBytes& b) { b[5] = 3; }, "role");
  refused([](ConnRecord&, RecordBytes& b) { b[7] = 5; }, "IP version");
  refused([](ConnRecord& r, RecordBytes& b) { r.qpn = 0; b = encode_record(r); }, "QP number 0");
  refused([](ConnRecord& r, RecordBytes& b) { r.qpn = 1u << 24; b = encode_record(r); }, "QP number");
  refused([](ConnRecord& r, RecordBytes& b) { r.psn = 1u << 24; b = encode_record(r); }, "PSN");
  refused([](ConnRecord& r, RecordBytes& b) { r.mtu = 1500; b = encode_record(r); }, "path MTU 1500");
  refused([](ConnRecord& r, RecordBytes& b) { r.mtu = 8192; b = encode_record(r); }, "path MTU 8192");
  refused([](ConnRecord& r, RecordBytes& b) { r.roce.port = 0; b = encode_record(r); }, "UDP port 0");
}

TEST(NcclNetProtocol, ImmediateCarriesSequenceAndElement) {
  for (uint32_t seq : {1u, 31u, 32u, 0x1FFFFFFFu, 0x20000001u})
    for (int e = 0; e < kMaxRecvs; ++e) {
      const uint32_t imm = make_imm(seq_bits(seq), e);
      EXPECT_EQ(imm_seq(imm), seq_bits(seq));
      EXPECT_EQ(imm_elem(imm), e);
      EXPECT_EQ(imm_seq(imm) % kSlots, seq % kSlots) << "the slot survives the truncation";
    }
  EXPECT_EQ(wr_kind(make_wr_id(WrKind::payload, 255)), WrKind::payload);
  EXPECT_EQ(wr_index(make_wr_id(WrKind::descriptor, 31)), 31u);
}

TEST(NcclNetIfaces, FilterSyntaxAsNcclSocketIfname) {
  IfaceFilter f = parse_iface_filter("eth,ib");
  EXPECT_TRUE(f.matches("eth0"));
  EXPECT_TRUE(f.matches("ib1"));
  EXPECT_FALSE(f.matches("lo"));
  f = parse_iface_filter("^docker,lo");
  EXPECT_TRUE(f.matches("eth0"));
  EXPECT_FALSE(f.matches("docker0"));
  EXPECT_FALSE(f.matches("lo"));
  f = parse_iface_filter("=eth0");
  EXPECT_TRUE(f.matches("eth0"));
  EXPECT_FALSE(f.matches("eth01"));
  f = parse_iface_filter("^=eth0");
  EXPECT_FALSE(f.matches("eth0"));
  EXPECT_TRUE(f.matches("eth01"));
  EXPECT_THROW(parse_iface_filter("^"), std::invalid_argument);
  EXPECT_THROW(parse_iface_filter("eth,,ib"), std::invalid_argument);
  EXPECT_THROW(parse_iface_filter("a-name-longer-than-ifnamsiz"), std::invalid_argument);
}

TEST(NcclNetIfaces, LoopbackWhenAskedFor) {
  const auto v = list_interfaces(parse_iface_filter("=lo"));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "lo");
  EXPECT_EQ(v[0].ip.ip_string(), "127.0.0.1");
  EXPECT_GT(v[0].mtu, 0);
  EXPECT_TRUE(list_interfaces(parse_iface_filter("=no-such-if")).empty());
}

TEST(NcclNetIfaces, RoceMtuFitsTheLink) {
  EXPECT_EQ(roce_mtu_for_link(9000), 4096u);
  EXPECT_EQ(roce_mtu_for_link(1500), 1024u);
  EXPECT_EQ(roce_mtu_for_link(4096 + 96), 4096u);
  EXPECT_EQ(roce_mtu_for_link(4096 + 95), 2048u);
  EXPECT_EQ(roce_mtu_for_link(0), 1024u);
}

TEST(NcclNetConfig, ReadsTheRegisteredVariables) {
  {
    env::ScopedLookup env({});
    const Config c = read_config();
    EXPECT_FALSE(c.ifaces);
    EXPECT_EQ(c.transport, Transport::automatic);
    EXPECT_EQ(c.timeout, std::chrono::seconds(30));
  }
  {
    env::ScopedLookup env({{"NCCL_SOCKET_IFNAME", "eth"}, {"RFAB_NCCL_TRANSPORT", "udp"}, {"RFAB_NCCL_TIMEOUT", "5"}});
    const Config c = read_config();
    ASSERT_TRUE(c.ifaces);
    EXPECT_TRUE(c.ifaces->matches("eth3"));
    EXPECT_EQ(c.transport, Transport::udp);
    EXPECT_EQ(c.timeout, std::chrono::seconds(5));
  }
  {
    env::ScopedLookup env({{"NCCL_SOCKET_IFNAME", "eth"}, {"RFAB_NCCL_IFACE", "=lo"}});
    EXPECT_TRUE(read_config().ifaces->matches("lo")) << "RFAB_NCCL_IFACE wins";
  }
  auto fails = [](std::map<std::string, std::string> vars, const char* needle) {
    env::ScopedLookup env(std::move(vars));
    try {
      read_config();
      ADD_FAILURE() << "accepted " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  fails({{"RFAB_NCCL_IFACE", "^"}}, "RFAB_NCCL_IFACE");
  fails({{"RFAB_NCCL_TRANSPORT", "tcp"}}, "RFAB_NCCL_TRANSPORT");
  fails({{"RFAB_NCCL_TIMEOUT", "0"}}, "RFAB_NCCL_TIMEOUT");
}

}  // namespace
}  // namespace rfab::ncclnet
