// The IBTA base-transport opcode table, in the spirit of Linux rxe's rxe_opcode_info: for every opcode,
// which extension headers follow the BTH (in wire order) and whether it carries payload.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rfab::wire {

inline constexpr uint16_t kRoceV2Port = 4791;

namespace op {  // opcode values (transport class in bits 7..5)
inline constexpr uint8_t kRc = 0x00, kUc = 0x20, kRd = 0x40, kUd = 0x60, kCnpClass = 0x80, kXrc = 0xA0;
inline constexpr uint8_t RC_SEND_FIRST = 0x00, RC_SEND_MIDDLE = 0x01, RC_SEND_LAST = 0x02,
                         RC_SEND_LAST_IMM = 0x03, RC_SEND_ONLY = 0x04, RC_SEND_ONLY_IMM = 0x05,
                         RC_WRITE_FIRST = 0x06, RC_WRITE_MIDDLE = 0x07, RC_WRITE_LAST = 0x08,
                         RC_WRITE_LAST_IMM = 0x09, RC_WRITE_ONLY = 0x0A, RC_WRITE_ONLY_IMM = 0x0B,
                         RC_READ_REQUEST = 0x0C, RC_READ_RESPONSE_FIRST = 0x0D,
                         RC_READ_RESPONSE_MIDDLE = 0x0E, RC_READ_RESPONSE_LAST = 0x0F,
                         RC_READ_RESPONSE_ONLY = 0x10, RC_ACK = 0x11, RC_ATOMIC_ACK = 0x12,
                         RC_CMP_SWAP = 0x13, RC_FETCH_ADD = 0x14, RC_SEND_LAST_INV = 0x16,
                         RC_SEND_ONLY_INV = 0x17;
inline constexpr uint8_t UC_SEND_FIRST = 0x20, UC_SEND_MIDDLE = 0x21, UC_SEND_LAST = 0x22,
                         UC_SEND_LAST_IMM = 0x23, UC_SEND_ONLY = 0x24, UC_SEND_ONLY_IMM = 0x25,
                         UC_WRITE_FIRST = 0x26, UC_WRITE_MIDDLE = 0x27, UC_WRITE_LAST = 0x28,
                         UC_WRITE_LAST_IMM = 0x29, UC_WRITE_ONLY = 0x2A, UC_WRITE_ONLY_IMM = 0x2B;
inline constexpr uint8_t UD_SEND_ONLY = 0x64, UD_SEND_ONLY_IMM = 0x65;
inline constexpr uint8_t CNP = 0x81;
}  // namespace op

// Extension headers, one bit each. Wire order after the BTH is the bit order below.
enum HeaderBit : uint16_t {
  kDeth = 1u << 0,
  kReth = 1u << 1,
  kAtomicEth = 1u << 2,
  kAeth = 1u << 3,
  kAtomicAckEth = 1u << 4,
  kImmDt = 1u << 5,
  kIeth = 1u << 6,
  kCnpPad = 1u << 7,  // the 16 reserved bytes of a RoCE v2 CNP
};

// Header sizes in bytes.
inline constexpr size_t kEthLen = 14, kVlanLen = 4, kIpv4Len = 20, kIpv6Len = 40, kUdpLen = 8, kBthLen = 12,
                        kDethLen = 8, kRethLen = 16, kAtomicEthLen = 28, kAethLen = 4, kAtomicAckEthLen = 8,
                        kImmDtLen = 4, kIethLen = 4, kCnpPadLen = 16, kIcrcLen = 4;

// Where in a multi-packet message an opcode sits (for segmentation and PSN/MSN rules).
enum class MsgPos : uint8_t { none, first, middle, last, only };

enum class OpKind : uint8_t { send, write, read_request, read_response, ack, atomic, atomic_ack, cnp };

struct OpcodeInfo {
  uint8_t opcode;
  std::string_view name;       // rxe-style, e.g. "RC_SEND_ONLY"
  std::string_view wireshark;  // Wireshark's text, e.g. "RC Send Only"
  uint16_t headers;            // HeaderBit mask
  bool payload;                // may carry payload (and so a pad count)
  MsgPos pos;
  OpKind kind;
  bool is_request() const { return kind != OpKind::ack && kind != OpKind::atomic_ack &&
                                   kind != OpKind::read_response && kind != OpKind::cnp; }
};

// nullptr when the opcode is not defined (or not supported: RD, XRC).
const OpcodeInfo* opcode_info(uint8_t opcode);

// Size of the headers the opcode carries after the BTH.
size_t ext_headers_len(uint16_t headers);

// Every defined opcode, for tests and tools.
const OpcodeInfo* opcode_table_begin();
const OpcodeInfo* opcode_table_end();

}  // namespace rfab::wire
