// The per-QP connection record perftest exchanges over its TCP side channel when it does not use rdma_cm
// (struct pingpong_dest, written by ethernet_write_keys in perftest_communication.c): a fixed-size,
// NUL-terminated text message of hex fields separated by ':'.
//   with a GID (RoCE):  "LID:OUT_READS:QPN:PSN:RKEY:VADDR:G0:G1:...:G15:SRQN:"  108 bytes with the NUL
//   without a GID (IB): "LID:OUT_READS:QPN:PSN:RKEY:VADDR:SRQN"                  59 bytes with the NUL
// Widths: LID %04x, OUT_READS %04x, QPN %06x, PSN %06x, RKEY %08x, VADDR %016llx, GID bytes %02x, SRQN %08x.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace rfab::sidechannel {

inline constexpr size_t kKeyMsgSize = 59, kKeyMsgSizeGid = 108;

struct PerftestDest {
  uint16_t lid = 0;        // 0 on RoCE
  uint16_t out_reads = 0;  // READ/atomic requests the QP may have outstanding (max_rd_atomic)
  uint32_t qpn = 0;        // 24 bits
  uint32_t psn = 0;        // 24 bits: the first PSN this QP sends
  uint32_t rkey = 0;
  uint64_t vaddr = 0;      // address of the registered buffer the peer may WRITE/READ
  std::array<uint8_t, 16> gid{};
  uint32_t srqn = 0;       // XRC/DC only; 0 for RC
  bool operator==(const PerftestDest&) const = default;
};

// The exact bytes perftest writes (the terminating NUL included): 108 with a GID, 59 without.
std::array<char, kKeyMsgSizeGid> encode_dest_gid(const PerftestDest& d);
std::array<char, kKeyMsgSize> encode_dest(const PerftestDest& d);

// Parses either form (chosen by `msg.size()`). On failure returns nullopt and sets `error` to a message
// naming the field ("qpn: '12g4' is not hex", "message is 40 bytes, expected 59 or 108").
std::optional<PerftestDest> parse_dest(std::span<const char> msg, std::string& error);

}  // namespace rfab::sidechannel
