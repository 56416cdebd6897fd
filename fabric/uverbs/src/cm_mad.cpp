// IB CM MAD codec (cm_mad.hpp). Offsets are those of IBTA vol 1 ch. 12.6 (the kernel's ibta_vol1_c12.h),
// relative to the CM payload that follows the 24-byte MAD header; every multi-byte field is big-endian
// and the sub-byte fields sit in the high bits first.
#include "cm_mad.hpp"

#include <algorithm>
#include <cstring>

namespace rfab::uverbs::ibcm {
namespace {

constexpr size_t kPayload = kMadSize - kMadHeaderSize;  // 232

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
void put24(uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 16); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)); put16(p + 2, uint16_t(v)); }
void put64(uint8_t* p, uint64_t v) { put32(p, uint32_t(v >> 32)); put32(p + 4, uint32_t(v)); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get24(const uint8_t* p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }
uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
uint64_t get64(const uint8_t* p) { return uint64_t(get32(p)) << 32 | get32(p + 4); }

// Where each attribute's private data starts in the CM payload.
size_t private_data_offset(Attr a) {
  switch (a) {
    case Attr::kReq: return 140;
    case Attr::kMra: return 10;
    case Attr::kRej: return 84;
    case Attr::kRep: return 36;
    case Attr::kRtu: return 8;
    case Attr::kDreq: return 12;
    case Attr::kDrep: return 8;
  }
  return kPayload;
}

bool known(uint16_t a) { return a >= uint16_t(Attr::kReq) && a <= uint16_t(Attr::kDrep); }

void encode_req(const CmMad& m, uint8_t* c) {
  put64(c + 8, m.service_id);
  put64(c + 16, m.local_ca_guid);
  put32(c + 28, m.local_qkey);
  put24(c + 32, m.local_qpn);
  c[35] = m.responder_resources;
  c[39] = m.initiator_depth;
  // remote CM response timeout | transport service type RC (0) | end-to-end flow control (0: RoCE
  // has no end-to-end credits, and the kernel's CM leaves it clear)
  c[43] = uint8_t((m.remote_cm_response_timeout & 0x1f) << 3);
  put24(c + 44, m.starting_psn);
  c[47] = uint8_t((m.local_cm_response_timeout & 0x1f) << 3 | (m.retry_count & 7));
  put16(c + 48, m.pkey);
  c[50] = uint8_t((m.path_mtu & 0xf) << 4 | (m.rnr_retry_count & 7));
  c[51] = uint8_t((m.max_cm_retries & 0xf) << 4 | (m.srq ? 1 << 3 : 0));
  // RoCE has no LIDs: both permissive, as the kernel's CM writes them for a RoCE path.
  put16(c + 52, 0xffff);
  put16(c + 54, 0xffff);
  std::memcpy(c + 56, m.primary_local_gid.data(), 16);
  std::memcpy(c + 72, m.primary_remote_gid.data(), 16);
  put32(c + 88, (m.flow_label & 0xfffff) << 12);  // flow label | reserved | packet rate (none, as RoCE)
  c[92] = m.traffic_class;
  c[93] = m.hop_limit;
  c[95] = uint8_t((m.local_ack_timeout & 0x1f) << 3);
}

void decode_req(const uint8_t* c, CmMad& m) {
  m.service_id = get64(c + 8);
  m.local_ca_guid = get64(c + 16);
  m.local_qkey = get32(c + 28);
  m.local_qpn = get24(c + 32);
  m.responder_resources = c[35];
  m.initiator_depth = c[39];
  m.remote_cm_response_timeout = c[43] >> 3;
  m.starting_psn = get24(c + 44);
  m.local_cm_response_timeout = c[47] >> 3;
  m.retry_count = c[47] & 7;
  m.pkey = get16(c + 48);
  m.path_mtu = c[50] >> 4;
  m.rnr_retry_count = c[50] & 7;
  m.max_cm_retries = c[51] >> 4;
  m.srq = (c[51] & 0x08) != 0;
  std::memcpy(m.primary_local_gid.data(), c + 56, 16);
  std::memcpy(m.primary_remote_gid.data(), c + 72, 16);
  m.flow_label = get32(c + 88) >> 12;
  m.traffic_class = c[92];
  m.hop_limit = c[93];
  m.local_ack_timeout = c[95] >> 3;
}

void encode_rep(const CmMad& m, uint8_t* c) {
  put24(c + 12, m.local_qpn);
  put24(c + 20, m.starting_psn);
  c[24] = m.responder_resources;
  c[25] = m.initiator_depth;
  c[26] = uint8_t((m.target_ack_delay & 0x1f) << 3);  // failover accepted 0, end-to-end flow control 0
  c[27] = uint8_t((m.rnr_retry_count & 7) << 5 | (m.srq ? 1 << 4 : 0));
  put64(c + 28, m.local_ca_guid);
}

void decode_rep(const uint8_t* c, CmMad& m) {
  m.local_qpn = get24(c + 12);
  m.starting_psn = get24(c + 20);
  m.responder_resources = c[24];
  m.initiator_depth = c[25];
  m.target_ack_delay = c[26] >> 3;
  m.rnr_retry_count = c[27] >> 5;
  m.srq = (c[27] & 0x10) != 0;
  m.local_ca_guid = get64(c + 28);
}

}  // namespace

size_t private_data_size(Attr a) { return kPayload - private_data_offset(a); }

std::optional<std::array<uint8_t, kMadSize>> encode(const CmMad& m) {
  if (!known(uint16_t(m.attr)) || m.private_data.size() > private_data_size(m.attr)) return std::nullopt;
  std::array<uint8_t, kMadSize> mad{};
  uint8_t* h = mad.data();
  h[0] = kBaseVersion;
  h[1] = kMgmtClassCm;
  h[2] = kCmClassVersion;
  h[3] = kMethodSend;
  put64(h + 8, m.tid);
  put16(h + 16, uint16_t(m.attr));
  uint8_t* c = h + kMadHeaderSize;
  put32(c, m.local_comm_id);
  put32(c + 4, m.remote_comm_id);
  switch (m.attr) {
    case Attr::kReq: encode_req(m, c); break;
    case Attr::kRep: encode_rep(m, c); break;
    case Attr::kRej:
      c[8] = uint8_t((m.message & 3) << 6);
      put16(c + 10, m.reason);
      break;
    case Attr::kMra:
      c[8] = uint8_t((m.message & 3) << 6);
      c[9] = uint8_t((m.service_timeout & 0x1f) << 3);
      break;
    case Attr::kDreq: put24(c + 8, m.remote_qpn); break;
    case Attr::kRtu:
    case Attr::kDrep: break;
  }
  if (!m.private_data.empty())
    std::memcpy(c + private_data_offset(m.attr), m.private_data.data(), m.private_data.size());
  return mad;
}

std::optional<CmMad> decode(std::span<const uint8_t> mad, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  auto bad = [why](const char* w) { *why = w; return std::optional<CmMad>(); };
  if (mad.size() != kMadSize) return bad("a CM MAD is 256 bytes");
  const uint8_t* h = mad.data();
  if (h[0] != kBaseVersion) return bad("MAD base version is not 1");
  if (h[1] != kMgmtClassCm) return bad("MAD management class is not CM (0x07)");
  if (h[2] != kCmClassVersion) return bad("CM class version is not 2");
  if (h[3] != kMethodSend) return bad("CM MAD method is not Send");
  const uint16_t attr = get16(h + 16);
  if (!known(attr)) return bad("unknown CM attribute (not REQ, MRA, REJ, REP, RTU, DREQ or DREP)");
  CmMad m;
  m.attr = Attr(attr);
  m.tid = get64(h + 8);
  const uint8_t* c = h + kMadHeaderSize;
  m.local_comm_id = get32(c);
  m.remote_comm_id = get32(c + 4);
  switch (m.attr) {
    case Attr::kReq:
      decode_req(c, m);
      if ((c[43] & 0x06) != 0) return bad("REQ transport service type is not RC");
      if (m.path_mtu < 1 || m.path_mtu > 5) return bad("REQ path MTU outside 256..4096");
      if (m.local_comm_id == 0) return bad("REQ local communication ID is 0");
      break;
    case Attr::kRep:
      decode_rep(c, m);
      if (m.local_comm_id == 0 || m.remote_comm_id == 0) return bad("REP communication ID is 0");
      break;
    case Attr::kRej:
      m.message = c[8] >> 6;
      m.reason = get16(c + 10);
      if (m.message == 3) return bad("REJ names a reserved message (3)");
      break;
    case Attr::kMra:
      m.message = c[8] >> 6;
      m.service_timeout = c[9] >> 3;
      if (m.message == 3) return bad("MRA names a reserved message (3)");
      break;
    case Attr::kDreq: m.remote_qpn = get24(c + 8); break;
    case Attr::kRtu:
    case Attr::kDrep: break;
  }
  const size_t off = private_data_offset(m.attr);
  m.private_data.assign(c + off, c + kPayload);
  return m;
}

const char* attr_name(Attr a) {
  switch (a) {
    case Attr::kReq: return "REQ";
    case Attr::kMra: return "MRA";
    case Attr::kRej: return "REJ";
    case Attr::kRep: return "REP";
    case Attr::kRtu: return "RTU";
    case Attr::kDreq: return "DREQ";
    case Attr::kDrep: return "DREP";
  }
  return "unknown";
}

std::array<uint8_t, kCmaHeaderSize> encode_cma_header(const CmaHeader& h) {
  std::array<uint8_t, kCmaHeaderSize> b{};
  b[0] = 0;  // CMA version
  b[1] = uint8_t((h.ipv6 ? 6 : 4) << 4);
  put16(&b[2], h.src_port);
  std::memcpy(&b[4], h.src_ip.data(), 16);
  std::memcpy(&b[20], h.dst_ip.data(), 16);
  return b;
}

std::optional<CmaHeader> decode_cma_header(std::span<const uint8_t> pd, const char** why) {
  const char* unused = nullptr;
  if (!why) why = &unused;
  if (pd.size() < kCmaHeaderSize) { *why = "REQ private data shorter than rdma_cm's header"; return std::nullopt; }
  if (pd[0] != 0) { *why = "rdma_cm header version is not 0"; return std::nullopt; }
  const uint8_t ipv = pd[1] >> 4;
  if (ipv != 4 && ipv != 6) { *why = "rdma_cm header IP version is neither 4 nor 6"; return std::nullopt; }
  CmaHeader h;
  h.ipv6 = ipv == 6;
  h.src_port = get16(&pd[2]);
  std::memcpy(h.src_ip.data(), &pd[4], 16);
  std::memcpy(h.dst_ip.data(), &pd[20], 16);
  return h;
}

}  // namespace rfab::uverbs::ibcm
