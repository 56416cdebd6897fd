#include "rfab/gen/truth.hpp"

#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rfab/wire/opcode.hpp"

namespace rfab::gen {
namespace w = rfab::wire;

const char* class_name(size_t cls) {
  static const char* const names[kClassCount] = {"send",       "write", "read_request", "read_response", "ack",
                                                 "atomic",     "atomic_ack", "cnp",   "other"};
  return cls < kClassCount ? names[cls] : "invalid";
}

size_t class_of(uint8_t opcode) {
  const w::OpcodeInfo* info = w::opcode_info(opcode);
  if (info == nullptr) return 8;
  switch (info->kind) {
    case w::OpKind::send: return 0;
    case w::OpKind::write: return 1;
    case w::OpKind::read_request: return 2;
    case w::OpKind::read_response: return 3;
    case w::OpKind::ack: return 4;
    case w::OpKind::atomic: return 5;
    case w::OpKind::atomic_ack: return 6;
    case w::OpKind::cnp: return 7;
  }
  return 8;
}

Truth::Truth(const GenConfig& c) : c_(c), forward_(c.qps), reverse_(c.qps) {
  for (uint32_t i = 0; i < c.qps; ++i) {
    forward_[i].src = c.src_ip.ip_string();
    forward_[i].dst = c.dst_ip.ip_string();
    forward_[i].qp = c.responder_qpn + i;
    reverse_[i].src = c.dst_ip.ip_string();
    reverse_[i].dst = c.src_ip.ip_string();
    reverse_[i].qp = c.requester_qpn + i;
    forward_[i].sport = reverse_[i].sport = static_cast<uint16_t>(c.sport_base + i);
  }
  for (size_t opc = 0; opc < class_by_opcode_.size(); ++opc)
    class_by_opcode_[opc] = static_cast<uint8_t>(class_of(static_cast<uint8_t>(opc)));
}

std::vector<FlowTruth> Truth::flows() const {
  std::vector<FlowTruth> out;
  for (const auto* side : {&forward_, &reverse_})
    for (const auto& f : *side)
      if (f.packets) out.push_back(f);
  return out;
}

std::string Truth::json(const std::string& extra_fields) const {
  nlohmann::ordered_json flows = nlohmann::ordered_json::array();
  for (const auto& f : this->flows()) {
    nlohmann::ordered_json classes = nlohmann::ordered_json::object(), opcodes = nlohmann::ordered_json::object();
    for (size_t c = 0; c < kClassCount; ++c)
      if (f.classes[c]) classes[class_name(c)] = f.classes[c];
    for (size_t opc = 0; opc < f.opcodes.size(); ++opc) {
      if (f.opcodes[opc] == 0) continue;
      const w::OpcodeInfo* info = w::opcode_info(static_cast<uint8_t>(opc));
      opcodes[info ? std::string(info->name) : std::to_string(opc)] = f.opcodes[opc];
    }
    flows.push_back({{"src", f.src}, {"dst", f.dst}, {"qp", f.qp}, {"sport", f.sport}, {"packets", f.packets},
                     {"bytes", f.bytes}, {"classes", classes}, {"opcodes", opcodes}, {"ecn_ce", f.ecn_ce},
                     {"cnps", f.cnps}, {"naks", f.naks}, {"psn_gaps", f.psn_gaps}, {"psn_skipped", f.psn_skipped}});
  }
  nlohmann::ordered_json j;
  j["packets"] = packets_;
  j["bytes"] = bytes_;
  std::string head = j.dump();
  head.pop_back();  // reopen the object for the caller's fields
  return head + (extra_fields.empty() ? "" : "," + extra_fields) + ",\"flows\":" + flows.dump() + "}";
}

std::string Truth::text() const {
  std::ostringstream o;
  o << std::left << std::setw(16) << "src" << std::setw(16) << "dst" << std::setw(10) << "qp" << std::right
    << std::setw(10) << "packets" << std::setw(12) << "bytes" << std::setw(8) << "ce" << std::setw(7) << "cnp"
    << std::setw(7) << "nak" << std::setw(8) << "gaps" << std::setw(9) << "skipped" << "  classes\n";
  for (const auto& f : flows()) {
    o << std::left << std::setw(16) << f.src << std::setw(16) << f.dst << std::setw(10)
      << ("0x" + [&] { std::ostringstream h; h << std::hex << f.qp; return h.str(); }()) << std::right
      << std::setw(10) << f.packets << std::setw(12) << f.bytes << std::setw(8) << f.ecn_ce << std::setw(7) << f.cnps
      << std::setw(7) << f.naks << std::setw(8) << f.psn_gaps << std::setw(9) << f.psn_skipped << "  ";
    bool first = true;
    for (size_t c = 0; c < kClassCount; ++c)
      if (f.classes[c]) {
        o << (first ? "" : ",") << class_name(c) << "=" << f.classes[c];
        first = false;
      }
    o << "\n";
  }
  o << "total: " << packets_ << " packets, " << bytes_ << " bytes\n";
  return o.str();
}

}  // namespace rfab::gen
