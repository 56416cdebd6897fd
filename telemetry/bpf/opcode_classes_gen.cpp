// Writes rfab_opcode_classes.h, the BTH opcode knowledge the eBPF collector uses, from fabric/wire's
// opcode table, so the two cannot disagree: the class (enum rfab_op_class) of every one of the 256
// opcodes as a byte table, and which classes are requests (PSN-tracked).
//
// Usage: rfab_bpf_opcode_classes OUT.h. Exits non-zero, naming the opcode, when fabric/wire's table breaks
// a rule the collector relies on: UC/UD opcodes laid out as RC's (shares_rc_layout), one request-ness per
// class, and an ACK's AETH directly after the BTH.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "rfab/telemetry/bpf_types.h"
#include "rfab/wire/opcode.hpp"

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

constexpr uint8_t kTransportMask = 0xE0;

// UC, UD and XRC number their opcodes as RC does (the low five bits name the operation). The collector
// counts an opcode of these transports as the RC opcode with the same low bits, so XRC traffic (which
// fabric/wire does not parse) is classified too, and so is an opcode a transport does not define (a UC
// READ request counts as a read request, as any packet claiming to be one would).
bool shares_rc_layout(uint8_t opcode) {
  const uint8_t t = opcode & kTransportMask;
  return t == w::op::kRc || t == w::op::kUc || t == w::op::kUd || t == w::op::kXrc;
}

uint8_t class_by_rc_layout(uint8_t opcode) {
  const w::OpcodeInfo* rc = w::opcode_info(static_cast<uint8_t>(w::op::kRc | (opcode & ~kTransportMask)));
  return rc ? class_of_kind(rc->kind) : uint8_t{RFAB_OPC_OTHER};
}

const char* class_name(unsigned c) {
  static const char* const names[RFAB_OPC_COUNT] = {"SEND", "WRITE", "READ_REQUEST", "READ_RESPONSE", "ACK",
                                                    "ATOMIC", "ATOMIC_ACK", "CNP", "OTHER"};
  return c < RFAB_OPC_COUNT ? names[c] : "?";
}

struct Classes {
  uint8_t of[256];
  uint32_t request_mask;
};

// The classes, or the first inconsistency found (in `error`).
std::optional<Classes> derive(std::string& error) {
  Classes out{};
  std::optional<bool> request[RFAB_OPC_COUNT];
  for (unsigned op = 0; op < 256; ++op) {
    const auto opcode = static_cast<uint8_t>(op);
    const w::OpcodeInfo* info = w::opcode_info(opcode);
    uint8_t cls = shares_rc_layout(opcode) ? class_by_rc_layout(opcode) : uint8_t{RFAB_OPC_OTHER};
    if (info) {
      const uint8_t own = class_of_kind(info->kind);
      if (shares_rc_layout(opcode) && own != cls) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "opcode 0x%02x (%.*s) is a %s in fabric/wire's table, but the RC opcode "
                      "with the same low bits is a %s", op, static_cast<int>(info->name.size()), info->name.data(),
                      class_name(own), class_name(cls));
        error = buf;
        return std::nullopt;
      }
      // The programs read an ACK's AETH syndrome from the 4 bytes right after the BTH.
      constexpr uint16_t kBeforeAeth = w::kDeth | w::kReth | w::kAtomicEth;
      if (own == RFAB_OPC_ACK && (!(info->headers & w::kAeth) || (info->headers & kBeforeAeth))) {
        error = "opcode " + std::string(info->name) + " is an ACK without an AETH right after its BTH";
        return std::nullopt;
      }
      cls = own;
      if (request[cls] && *request[cls] != info->is_request()) {
        error = std::string("class ") + class_name(cls) + " holds both requests and responses in fabric/wire's table";
        return std::nullopt;
      }
      request[cls] = info->is_request();
    }
    out.of[op] = cls;
  }
  for (unsigned c = 0; c < RFAB_OPC_COUNT; ++c)
    if (request[c].value_or(false)) out.request_mask |= 1u << c;
  return out;
}

std::string render(const Classes& c) {
  std::ostringstream h;
  h << "/* Generated at build time by rfab_bpf_opcode_classes (telemetry/bpf/opcode_classes_gen.cpp) from\n"
       " * fabric/wire's opcode table; do not edit. Values are enum rfab_op_class (bpf_types.h). */\n"
       "#ifndef RFAB_OPCODE_CLASSES_H\n#define RFAB_OPCODE_CLASSES_H\n\n"
       "/* The class of each BTH opcode, indexed by the opcode. */\n"
       "#define RFAB_OPCODE_CLASS_TABLE \\\n  { \\\n";
  for (unsigned row = 0; row < 256; row += 16) {
    h << "    ";
    for (unsigned i = row; i < row + 16; ++i) h << unsigned{c.of[i]} << (i == 255 ? "" : ", ");
    char comment[32];
    std::snprintf(comment, sizeof comment, " /* 0x%02x */ \\\n", row);
    h << comment;
  }
  h << "  }\n\n";
  char line[160];
  std::snprintf(line, sizeof line,
                "/* Bit c set: class c is a request (carries the requester's PSN sequence). */\n"
                "#define RFAB_OPC_REQUEST_MASK 0x%03xu\n\n",
                c.request_mask);
  h << line;
  std::snprintf(line, sizeof line,
                "/* Transport in the opcode's top three bits. */\n"
                "#define RFAB_OPCODE_TRANSPORT_MASK 0x%02xu\n#define RFAB_OPCODE_TRANSPORT_RC 0x%02xu\n\n",
                unsigned{kTransportMask}, unsigned{w::op::kRc});
  h << line;
  h << "#endif /* RFAB_OPCODE_CLASSES_H */\n";
  return h.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: rfab_bpf_opcode_classes OUT.h\n");
    return 2;
  }
  std::string error;
  const std::optional<Classes> classes = derive(error);
  if (!classes) {
    std::fprintf(stderr, "rfab_bpf_opcode_classes: %s\n", error.c_str());
    return 1;
  }
  std::ofstream out(argv[1], std::ios::trunc);
  out << render(*classes);
  out.close();
  if (!out) {
    std::fprintf(stderr, "rfab_bpf_opcode_classes: cannot write '%s'\n", argv[1]);
    return 1;
  }
  return 0;
}
