// The eBPF collector's opcode classes (rfab_opcode_classes.h, generated at build time) against fabric/wire's
// opcode table: every one of the 256 opcodes is pinned down by the rules below, so a generator or table
// change that moves any opcode to another class fails here.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

#include "rfab/telemetry/bpf_types.h"
#include "rfab/wire/opcode.hpp"
#include "rfab_opcode_classes.h"

namespace {

namespace w = rfab::wire;

constexpr uint8_t kClassOf[256] = RFAB_OPCODE_CLASS_TABLE;

unsigned expected_class(w::OpKind k) {
  static constexpr std::pair<w::OpKind, unsigned> kKinds[] = {
      {w::OpKind::send, RFAB_OPC_SEND},           {w::OpKind::write, RFAB_OPC_WRITE},
      {w::OpKind::read_request, RFAB_OPC_READ_REQUEST}, {w::OpKind::read_response, RFAB_OPC_READ_RESPONSE},
      {w::OpKind::ack, RFAB_OPC_ACK},             {w::OpKind::atomic, RFAB_OPC_ATOMIC},
      {w::OpKind::atomic_ack, RFAB_OPC_ATOMIC_ACK}, {w::OpKind::cnp, RFAB_OPC_CNP},
  };
  for (const auto& [kind, cls] : kKinds)
    if (kind == k) return cls;
  ADD_FAILURE() << "OpKind " << static_cast<int>(k) << " has no collector class";
  return RFAB_OPC_COUNT;
}

bool is_request_class(unsigned cls) { return (RFAB_OPC_REQUEST_MASK >> cls) & 1u; }

TEST(BpfOpcodeClasses, EveryOpcodeOfTheWireTableHasItsKindsClass) {
  for (const w::OpcodeInfo* i = w::opcode_table_begin(); i != w::opcode_table_end(); ++i)
    EXPECT_EQ(kClassOf[i->opcode], expected_class(i->kind)) << i->name;
  EXPECT_EQ(kClassOf[w::op::CNP], unsigned{RFAB_OPC_CNP});
  EXPECT_EQ(kClassOf[w::op::RC_SEND_ONLY_INV], unsigned{RFAB_OPC_SEND});
  EXPECT_EQ(kClassOf[w::op::UD_SEND_ONLY], unsigned{RFAB_OPC_SEND});
}

TEST(BpfOpcodeClasses, RcOpcodesTheWireTableDoesNotDefineAreOther) {
  int undefined = 0;
  for (unsigned op = w::op::kRc; op < w::op::kRc + 0x20u; ++op) {
    if (w::opcode_info(static_cast<uint8_t>(op))) continue;
    ++undefined;
    EXPECT_EQ(kClassOf[op], unsigned{RFAB_OPC_OTHER}) << "opcode " << op;
  }
  EXPECT_EQ(undefined, 9);  // 0x15 and 0x18..0x1F
}

// UC, UD and XRC number their operations as RC does; the collector classes their opcodes by that layout,
// including ones a transport does not define and XRC, which fabric/wire does not parse.
TEST(BpfOpcodeClasses, UcUdAndXrcOpcodesAreClassedAsTheRcOpcodeWithTheSameLowBits) {
  for (uint8_t transport : {w::op::kUc, w::op::kUd, w::op::kXrc})
    for (unsigned low = 0; low < 0x20; ++low)
      EXPECT_EQ(kClassOf[transport | low], kClassOf[w::op::kRc | low])
          << "transport " << unsigned{transport} << ", opcode " << (transport | low);
}

TEST(BpfOpcodeClasses, OpcodesOfOtherTransportsAreOtherExceptTheCnp) {
  for (unsigned op = 0; op < 256; ++op) {
    const unsigned t = op & RFAB_OPCODE_TRANSPORT_MASK;
    if (t == w::op::kRc || t == w::op::kUc || t == w::op::kUd || t == w::op::kXrc || op == w::op::CNP) continue;
    EXPECT_EQ(kClassOf[op], unsigned{RFAB_OPC_OTHER}) << "opcode " << op;
  }
}

TEST(BpfOpcodeClasses, RequestClassesAreTheWireTablesRequests) {
  for (const w::OpcodeInfo* i = w::opcode_table_begin(); i != w::opcode_table_end(); ++i)
    EXPECT_EQ(is_request_class(kClassOf[i->opcode]), i->is_request()) << i->name;
  EXPECT_FALSE(is_request_class(RFAB_OPC_OTHER));
  EXPECT_EQ(RFAB_OPC_REQUEST_MASK >> RFAB_OPC_COUNT, 0u);
}

TEST(BpfOpcodeClasses, TheRcTransportIsTheOneTheWireTableNames) {
  EXPECT_EQ(RFAB_OPCODE_TRANSPORT_RC, unsigned{w::op::kRc});
  for (uint8_t t : {w::op::kUc, w::op::kRd, w::op::kUd, w::op::kCnpClass, w::op::kXrc})
    EXPECT_EQ(t & RFAB_OPCODE_TRANSPORT_MASK, unsigned{t});
  EXPECT_EQ(w::op::RC_ACK & RFAB_OPCODE_TRANSPORT_MASK, RFAB_OPCODE_TRANSPORT_RC);
}

}  // namespace
