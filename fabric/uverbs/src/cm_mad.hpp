// InfiniBand CM messages (IBTA vol 1 ch. 12) in 256-byte MADs, as a kernel rdma_cm peer (Linux ib_cm over
// rdma_rxe or a RoCE NIC) sends and expects them on QP1: the common MAD header (ch. 13.4.2) followed by
// the CM attribute (REQ, MRA, REJ, REP, RTU, DREQ, DREP). Only the fields an RC connection over RoCE uses
// are named; the others are encoded as zero (alternate path, EE contexts, ARI). Plus rdma_cm's own header
// at the start of a REQ's private data (the kernel's struct cma_hdr): the IP addresses and port of both
// ends, which is how a kernel listener finds the rdma_cm id a REQ is for.
//
// Pure codec, unit tested and fuzzed (tests/fuzz/fuzz_cm_mad.cpp); the provider's CM sends and reads them
// through cm_gsi.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rfab::uverbs::ibcm {

inline constexpr size_t kMadSize = 256;
inline constexpr size_t kMadHeaderSize = 24;
inline constexpr uint8_t kBaseVersion = 1;
inline constexpr uint8_t kMgmtClassCm = 0x07;
inline constexpr uint8_t kCmClassVersion = 2;
inline constexpr uint8_t kMethodSend = 0x03;

enum class Attr : uint16_t {
  kReq = 0x0010,
  kMra = 0x0011,
  kRej = 0x0012,
  kRep = 0x0013,
  kRtu = 0x0014,
  kDreq = 0x0015,
  kDrep = 0x0016,
};

// The private data each attribute carries (the rest of the 232-byte CM payload is its fixed fields).
size_t private_data_size(Attr a);

// The service ID rdma_cm gives a port of a port space (what a kernel listener matches a REQ's against):
// the port space (RDMA_PS_TCP 0x0106, RDMA_PS_IB 0x013f) above the port.
inline constexpr uint64_t kServiceIdPsTcp = 0x0000000001060000ull;
inline uint64_t service_id(uint16_t port_space, uint16_t port) { return uint64_t{port_space} << 16 | port; }
inline uint64_t service_id_for_port(uint16_t port) { return kServiceIdPsTcp | port; }

// What an rfab provider writes as a REQ's local Q_Key ("rfab"; an RC connection has no Q_Key, and the
// kernel's CM ignores it): a provider listener then knows the client connects over its side channel.
inline constexpr uint32_t kRfabQkey = 0x72666162;

// REJ reasons (IBTA table 112) this end sends or interprets.
inline constexpr uint16_t kRejInvalidServiceId = 8;
inline constexpr uint16_t kRejConsumer = 28;

// MRA / REJ "message" field: which message is being answered.
inline constexpr uint8_t kMsgReq = 0, kMsgRep = 1, kMsgOther = 2;

// One CM MAD. Fields not used by `attr` are ignored by encode and zero after decode.
struct CmMad {
  Attr attr = Attr::kReq;
  uint64_t tid = 0;               // transaction ID (the MAD header's)
  uint32_t local_comm_id = 0;     // the sender's connection ID
  uint32_t remote_comm_id = 0;    // the receiver's (0 in a REQ)
  // REQ
  uint64_t service_id = 0;
  uint64_t local_ca_guid = 0;     // REQ and REP
  uint32_t local_qkey = 0;        // REQ (unused by RC: rfab providers mark their REQs with kRfabQkey)
  uint32_t local_qpn = 0;         // REQ and REP, 24 bits
  uint8_t responder_resources = 0;  // REQ and REP
  uint8_t initiator_depth = 0;      // REQ and REP
  uint8_t remote_cm_response_timeout = 20;  // REQ, 5 bits (4.096 us * 2^n)
  uint8_t local_cm_response_timeout = 20;   // REQ, 5 bits
  uint32_t starting_psn = 0;      // REQ and REP, 24 bits
  uint8_t retry_count = 7;        // REQ, 3 bits
  uint8_t rnr_retry_count = 7;    // REQ and REP, 3 bits
  uint16_t pkey = 0xffff;         // REQ
  uint8_t path_mtu = 0;           // REQ, 4 bits (enum ibv_mtu)
  uint8_t max_cm_retries = 15;    // REQ, 4 bits
  bool srq = false;               // REQ and REP
  std::array<uint8_t, 16> primary_local_gid{};   // REQ: the sender's GID (IPv4-mapped for IPv4)
  std::array<uint8_t, 16> primary_remote_gid{};  // REQ: the receiver's
  uint32_t flow_label = 0;        // REQ, 20 bits
  uint8_t traffic_class = 0;      // REQ
  uint8_t hop_limit = 64;         // REQ
  uint8_t local_ack_timeout = 14; // REQ, 5 bits
  // REP
  uint8_t target_ack_delay = 0;   // 5 bits
  // REJ / MRA
  uint8_t message = kMsgReq;      // REJ: message rejected; MRA: message MRAed (2 bits)
  uint16_t reason = 0;            // REJ
  uint8_t service_timeout = 0;    // MRA, 5 bits
  // DREQ
  uint32_t remote_qpn = 0;        // 24 bits: the receiver's QP
  std::vector<uint8_t> private_data;  // at most private_data_size(attr); encode pads with zeros
};

// The 256-byte MAD for `m`; nullopt when its private data is longer than the attribute holds.
std::optional<std::array<uint8_t, kMadSize>> encode(const CmMad& m);

// A MAD back into a CM message; nullopt with `why` naming the first problem (length, versions, class,
// method, attribute, a reserved value). Private data comes back at the attribute's full size.
std::optional<CmMad> decode(std::span<const uint8_t> mad, const char** why);

const char* attr_name(Attr a);

// rdma_cm's header in a REQ's private data (36 bytes: version 0, IP version in the high nibble, the
// active side's port, source and destination address as 16 bytes each, IPv4 in the last four).
inline constexpr size_t kCmaHeaderSize = 36;
struct CmaHeader {
  bool ipv6 = false;
  uint16_t src_port = 0;
  std::array<uint8_t, 16> src_ip{};  // IPv4: the address in bytes 12..15, the rest zero
  std::array<uint8_t, 16> dst_ip{};
};
std::array<uint8_t, kCmaHeaderSize> encode_cma_header(const CmaHeader& h);
std::optional<CmaHeader> decode_cma_header(std::span<const uint8_t> private_data, const char** why);

}  // namespace rfab::uverbs::ibcm
