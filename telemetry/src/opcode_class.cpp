// The opcode classes of bpf_types.h from fabric/wire's opcode table, by the rules of the eBPF programs'
// generated table (telemetry/bpf/opcode_classes_gen.cpp); tests/unit/telemetry checks the two agree on
// all 256 opcodes.
#include <array>

#include "rfab/telemetry/frame_counter.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::telemetry {
namespace {
namespace w = rfab::wire;

uint8_t class_of_kind(w::OpKind k) {
  switch (k) {
    case w::OpKind::send: return RFAB_OPC_SEND;
    case w::OpKind::write: return RFAB_OPC_WRITE;
    case w::OpKind::read_request: return RFAB_OPC_READ_REQUEST;
    case w::OpKind::read_response: return RFAB_OPC_READ_RESPONSE;
    case w::OpKind::ack: return RFAB_OPC_ACK;
    case w::OpKind::atomic: return RFAB_OPC_ATOMIC;
    case w::OpKind::atomic_ack: return RFAB_OPC_ATOMIC_ACK;
    case w::OpKind::cnp: return RFAB_OPC_CNP;
  }
  return RFAB_OPC_OTHER;
}

std::array<uint8_t, 256> build_table() {
  std::array<uint8_t, 256> t{};
  for (unsigned op = 0; op < 256; ++op) {
    const auto opcode = static_cast<uint8_t>(op);
    const uint8_t transport = opcode & 0xE0;
    uint8_t cls = RFAB_OPC_OTHER;
    if (transport == w::op::kRc || transport == w::op::kUc || transport == w::op::kUd || transport == w::op::kXrc) {
      const w::OpcodeInfo* rc = w::opcode_info(static_cast<uint8_t>(w::op::kRc | (opcode & 0x1F)));
      cls = rc ? class_of_kind(rc->kind) : uint8_t{RFAB_OPC_OTHER};
    }
    if (const w::OpcodeInfo* own = w::opcode_info(opcode)) cls = class_of_kind(own->kind);
    t[op] = cls;
  }
  return t;
}

}  // namespace

uint8_t opcode_class(uint8_t opcode) {
  static const std::array<uint8_t, 256> table = build_table();
  return table[opcode];
}

bool opcode_class_is_request(uint8_t cls) {
  return cls == RFAB_OPC_SEND || cls == RFAB_OPC_WRITE || cls == RFAB_OPC_READ_REQUEST || cls == RFAB_OPC_ATOMIC;
}

}  // namespace rfab::telemetry
