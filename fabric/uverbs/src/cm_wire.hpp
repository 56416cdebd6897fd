// The connection-manager exchange between two rfab verbs providers ("CM wire"): what librdmacm's
// rdma_connect / rdma_accept / rdma_reject / rdma_disconnect carry from one end to the other. Between
// providers the exchange runs over a TCP side channel on the same address as the rdma_cm port
// (docs/verbs-provider.md, "The CM exchange"); with a kernel rdma_cm peer the same messages travel as IB
// CM MADs on QP1 (cm_mad.hpp, rdmacm_mad.cpp).
//
// Every message is one frame: a fixed 40-byte header in network byte order followed by up to
// kMaxPrivateData bytes of rdma_cm private data, so a reader knows each frame's length from its header
// and a short or malformed frame is rejected with a reason instead of being half-applied.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rfab::uverbs::cm {

inline constexpr uint32_t kMagic = 0x7266636d;        // "rfcm"
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 40;
// IBTA CM REQ private data is 92 bytes and REP 196; rdma_cm's own header takes none here, so the
// largest IBTA value is the limit for every message.
inline constexpr size_t kMaxPrivateData = 196;

enum class Type : uint8_t {
  kRequest = 1,     // rdma_connect: the active side's QP
  kReply = 2,       // rdma_accept: the passive side's QP
  kReject = 3,      // rdma_reject, or no listener / no QP
  kReadyToUse = 4,  // the active side reached RTS (rdma_establish / rdma_connect's completion)
  kDisconnect = 5,  // rdma_disconnect
};

struct Message {
  Type type = Type::kRequest;
  uint32_t qpn = 0;                  // 24 bits used
  uint32_t psn = 0;                  // the sender's initial send PSN, 24 bits used
  std::array<uint8_t, 16> gid{};     // the sender's port GID (IPv4-mapped for IPv4)
  uint8_t responder_resources = 0;   // READ/atomic requests the sender accepts
  uint8_t initiator_depth = 0;       // READ/atomic requests the sender issues
  uint8_t rnr_retry_count = 7;
  uint8_t retry_count = 7;
  uint8_t reject_reason = 0;         // kReject only (IBTA rejection reason; 28 = consumer reject)
  uint8_t path_mtu = 0;              // the sender's active MTU (enum ibv_mtu, 1..5); 0 = not stated
  std::vector<uint8_t> private_data; // at most kMaxPrivateData bytes
};

// The frame for `m`, or nullopt when its private data is too long.
std::optional<std::vector<uint8_t>> encode(const Message& m);

struct HeaderInfo {
  Type type;
  size_t private_data_len;
};

// Checks a frame's header (magic, version, type, length); `why` names the first problem found.
std::optional<HeaderInfo> decode_header(std::span<const uint8_t> header, const char** why);

// A whole frame (header + private data) back into a message; nullopt with `why` on any mismatch.
std::optional<Message> decode(std::span<const uint8_t> frame, const char** why);

const char* type_name(Type t);

// Reassembles frames from a byte stream (the TCP side channel delivers them in arbitrary pieces).
class FrameReader {
 public:
  void feed(std::span<const uint8_t> bytes) { buf_.insert(buf_.end(), bytes.begin(), bytes.end()); }
  // The next whole frame: true with `out` filled; false when more bytes are needed, or with `*why` set
  // when the stream holds something that is not a frame (the connection is then unusable).
  bool next(Message& out, const char** why);

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace rfab::uverbs::cm
