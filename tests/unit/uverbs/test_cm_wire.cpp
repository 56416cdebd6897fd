// The frame format of the CM exchange between two providers (cm_wire.hpp): round trips keep every field
// and the private data, and truncated, oversized or foreign frames are refused with a reason.
#include <gtest/gtest.h>

#include <string>

#include <infiniband/verbs.h>

#include "cm_wire.hpp"

using namespace rfab::uverbs;

namespace {

cm::Message request() {
  cm::Message m;
  m.type = cm::Type::kRequest;
  m.qpn = 0x123456;
  m.psn = 0xabcdef;
  for (int i = 0; i < 16; ++i) m.gid[i] = uint8_t(0xf0 + i);
  m.responder_resources = 16;
  m.initiator_depth = 8;
  m.rnr_retry_count = 6;
  m.retry_count = 5;
  m.path_mtu = IBV_MTU_2048;
  m.private_data = {1, 2, 3, 4, 5};
  return m;
}

}  // namespace

TEST(CmWire, RoundTripKeepsEveryField) {
  const auto m = request();
  auto f = cm::encode(m);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), cm::kHeaderSize + 5);
  const char* why = nullptr;
  auto d = cm::decode(*f, &why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->type, cm::Type::kRequest);
  EXPECT_EQ(d->qpn, 0x123456u);
  EXPECT_EQ(d->psn, 0xabcdefu);
  EXPECT_EQ(d->gid, m.gid);
  EXPECT_EQ(d->path_mtu, IBV_MTU_2048);
  EXPECT_EQ(d->responder_resources, 16);
  EXPECT_EQ(d->initiator_depth, 8);
  EXPECT_EQ(d->rnr_retry_count, 6);
  EXPECT_EQ(d->retry_count, 5);
  EXPECT_EQ(d->private_data, m.private_data);
}

TEST(CmWire, HeaderIsBigEndianAndQpnPsnKeep24Bits) {
  auto m = request();
  m.qpn = 0xff000011;
  m.psn = 0x12000022;
  auto f = cm::encode(m);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)[0], 0x72);  // 'r' of the magic first
  EXPECT_EQ((*f)[7], 5);     // private data length, low byte
  EXPECT_EQ((*f)[8], 0);
  EXPECT_EQ((*f)[11], 0x11);
  auto d = cm::decode(*f, nullptr);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->qpn, 0x11u);
  EXPECT_EQ(d->psn, 0x22u);
}

TEST(CmWire, LargestPrivateDataFitsAndOneMoreIsRefused) {
  auto m = request();
  m.type = cm::Type::kReply;
  m.private_data.assign(cm::kMaxPrivateData, 0x5a);
  auto f = cm::encode(m);
  ASSERT_TRUE(f);
  auto d = cm::decode(*f, nullptr);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->private_data.size(), cm::kMaxPrivateData);
  m.private_data.push_back(0);
  EXPECT_FALSE(cm::encode(m));
}

TEST(CmWire, RejectCarriesItsReason) {
  cm::Message m;
  m.type = cm::Type::kReject;
  m.reject_reason = 28;
  auto d = cm::decode(*cm::encode(m), nullptr);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, cm::Type::kReject);
  EXPECT_EQ(d->reject_reason, 28);
  EXPECT_TRUE(d->private_data.empty());
}

TEST(CmWire, BadFramesAreRefusedWithAReason) {
  auto f = *cm::encode(request());
  const char* why = nullptr;

  EXPECT_FALSE(cm::decode(std::span(f).first(cm::kHeaderSize - 1), &why));
  EXPECT_NE(std::string(why).find("shorter"), std::string::npos);

  EXPECT_FALSE(cm::decode(std::span(f).first(f.size() - 1), &why));
  EXPECT_NE(std::string(why).find("length"), std::string::npos);

  auto bad = f;
  bad[0] ^= 0xff;
  EXPECT_FALSE(cm::decode(bad, &why));
  EXPECT_NE(std::string(why).find("magic"), std::string::npos);

  bad = f;
  bad[4] = 9;
  EXPECT_FALSE(cm::decode(bad, &why));
  EXPECT_NE(std::string(why).find("version"), std::string::npos);

  bad = f;
  bad[5] = 0;
  EXPECT_FALSE(cm::decode(bad, &why));
  EXPECT_NE(std::string(why).find("type"), std::string::npos);

  bad = f;
  bad[6] = 0x01;  // 256 + 5 bytes of private data claimed
  EXPECT_FALSE(cm::decode_header(bad, &why));
  EXPECT_NE(std::string(why).find("196"), std::string::npos);
}

TEST(CmWire, TypeNames) {
  EXPECT_STREQ(cm::type_name(cm::Type::kRequest), "REQ");
  EXPECT_STREQ(cm::type_name(cm::Type::kDisconnect), "DREQ");
}

TEST(CmWire, PathMtuOutsideTheIbtaValuesIsRefused) {
  auto f = *cm::encode(request());
  f[37] = 6;
  const char* why = nullptr;
  EXPECT_FALSE(cm::decode(f, &why));
  EXPECT_NE(std::string(why).find("MTU"), std::string::npos);
}

// The side channel is a byte stream: frames arrive split and glued together.
TEST(CmWire, ReaderReassemblesFramesFromAnyPieces) {
  cm::Message a = request();
  cm::Message b = request();
  b.type = cm::Type::kReply;
  b.private_data.assign(196, 0x5a);
  std::vector<uint8_t> stream = *cm::encode(a);
  const auto fb = *cm::encode(b);
  stream.insert(stream.end(), fb.begin(), fb.end());
  for (size_t piece : {size_t{1}, size_t{7}, size_t{40}, size_t{45}, stream.size()}) {
    cm::FrameReader r;
    std::vector<cm::Message> got;
    const char* why = nullptr;
    for (size_t at = 0; at < stream.size(); at += piece) {
      r.feed(std::span<const uint8_t>(stream).subspan(at, std::min(piece, stream.size() - at)));
      cm::Message m;
      while (r.next(m, &why)) got.push_back(m);
      ASSERT_EQ(why, nullptr) << piece;
    }
    ASSERT_EQ(got.size(), 2u) << piece;
    EXPECT_EQ(got[0].type, cm::Type::kRequest);
    EXPECT_EQ(got[0].private_data, a.private_data);
    EXPECT_EQ(got[1].type, cm::Type::kReply);
    EXPECT_EQ(got[1].private_data, b.private_data);
  }
}

TEST(CmWire, ReaderRefusesAStreamThatIsNotFrames) {
  cm::FrameReader r;
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789012345";
  r.feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(http.data()), http.size()));
  cm::Message m;
  const char* why = nullptr;
  EXPECT_FALSE(r.next(m, &why));
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("magic"), std::string::npos);
}
