// The CM exchange's frame format (cm_wire.hpp).
#include "cm_wire.hpp"

#include <cstring>

namespace rfab::uverbs::cm {
namespace {

// Header layout, offsets in bytes (all multi-byte fields big-endian):
//  0 magic u32 | 4 version u8 | 5 type u8 | 6 private data length u16 | 8 qpn u32 | 12 psn u32 |
// 16 gid[16] | 32 responder_resources u8 | 33 initiator_depth u8 | 34 rnr_retry u8 | 35 retry u8 |
// 36 reject_reason u8 | 37 path_mtu u8 | 38..39 zero
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
bool known(uint8_t t) { return t >= uint8_t(Type::kRequest) && t <= uint8_t(Type::kDisconnect); }

}  // namespace

std::optional<std::vector<uint8_t>> encode(const Message& m) {
  if (m.private_data.size() > kMaxPrivateData) return std::nullopt;
  std::vector<uint8_t> f(kHeaderSize + m.private_data.size(), 0);
  put32(&f[0], kMagic);
  f[4] = kVersion;
  f[5] = uint8_t(m.type);
  f[6] = uint8_t(m.private_data.size() >> 8);
  f[7] = uint8_t(m.private_data.size());
  put32(&f[8], m.qpn & 0xffffff);
  put32(&f[12], m.psn & 0xffffff);
  std::memcpy(&f[16], m.gid.data(), 16);
  f[32] = m.responder_resources;
  f[33] = m.initiator_depth;
  f[34] = m.rnr_retry_count;
  f[35] = m.retry_count;
  f[36] = m.reject_reason;
  f[37] = m.path_mtu;
  if (!m.private_data.empty()) std::memcpy(&f[kHeaderSize], m.private_data.data(), m.private_data.size());
  return f;
}

std::optional<HeaderInfo> decode_header(std::span<const uint8_t> h, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  if (h.size() < kHeaderSize) { *why = "CM frame shorter than its header"; return std::nullopt; }
  if (get32(&h[0]) != kMagic) { *why = "not an rfab CM frame (bad magic)"; return std::nullopt; }
  if (h[4] != kVersion) { *why = "unsupported rfab CM version"; return std::nullopt; }
  if (!known(h[5])) { *why = "unknown CM message type"; return std::nullopt; }
  const size_t len = size_t(h[6]) << 8 | h[7];
  if (len > kMaxPrivateData) { *why = "CM private data longer than 196 bytes"; return std::nullopt; }
  if (h[37] > 5) { *why = "CM path MTU outside 256..4096"; return std::nullopt; }
  return HeaderInfo{Type(h[5]), len};
}

std::optional<Message> decode(std::span<const uint8_t> f, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  auto h = decode_header(f, why);
  if (!h) return std::nullopt;
  if (f.size() != kHeaderSize + h->private_data_len) {
    *why = "CM frame length does not match its header";
    return std::nullopt;
  }
  Message m;
  m.type = h->type;
  m.qpn = get32(&f[8]) & 0xffffff;
  m.psn = get32(&f[12]) & 0xffffff;
  std::memcpy(m.gid.data(), &f[16], 16);
  m.responder_resources = f[32];
  m.initiator_depth = f[33];
  m.rnr_retry_count = f[34];
  m.retry_count = f[35];
  m.reject_reason = f[36];
  m.path_mtu = f[37];
  m.private_data.assign(f.begin() + kHeaderSize, f.end());
  return m;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kRequest: return "REQ";
    case Type::kReply: return "REP";
    case Type::kReject: return "REJ";
    case Type::kReadyToUse: return "RTU";
    case Type::kDisconnect: return "DREQ";
  }
  return "unknown";
}

bool FrameReader::next(Message& out, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  *why = nullptr;
  if (buf_.size() < kHeaderSize) return false;
  auto h = decode_header(buf_, why);
  if (!h) return false;
  const size_t len = kHeaderSize + h->private_data_len;
  if (buf_.size() < len) return false;
  auto m = decode(std::span<const uint8_t>(buf_.data(), len), why);
  if (!m) return false;
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(len));
  out = std::move(*m);
  return true;
}

}  // namespace rfab::uverbs::cm
