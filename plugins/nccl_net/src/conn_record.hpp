// What the two ends of a connection tell each other over the side channel before their RC QPs connect:
// the QP, its first PSN, the path MTU it can use, its RoCE address and which rfab extensions its device
// has. A fixed 44-byte big-endian record.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "rfab/udp/address.hpp"

namespace rfab::ncclnet {

enum class Role : uint8_t { sender = 1, receiver = 2 };  // the connecting side sends, the accepting side receives

struct ConnRecord {
  Role role = Role::sender;
  bool selective_recovery = false;  // the device can recover losses selectively (an rfab engine)
  uint32_t nonce = 0;               // the listen handle's nonce
  uint32_t qpn = 0;
  uint32_t psn = 0;
  uint32_t mtu = 0;                 // largest path MTU this end can use, 256..4096
  udp::Address roce;                // where its RoCE packets go (IP + UDP port)
};

inline constexpr size_t kRecordBytes = 44;
using RecordBytes = std::array<char, kRecordBytes>;

RecordBytes encode_record(const ConnRecord& r);
// The record, or nullopt with `why` naming the bad field.
std::optional<ConnRecord> decode_record(const RecordBytes& b, std::string& why);

}  // namespace rfab::ncclnet
