// The ground truth of a generator run: per flow (source IP, destination IP, destination QP, as a collector
// keys them) exactly what went out, counted when a frame is handed to the sink: packets, frame bytes,
// opcode classes (named as the collector names them) and opcodes, CE marks, CNPs, NAKs, and the PSNs
// skipped on purpose (holes a collector must find) in how many jumps.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rfab/gen/config.hpp"
#include "rfab/gen/traffic_model.hpp"

namespace rfab::gen {

// Opcode classes, in the collector's order and names (send, write, read_request, read_response, ack,
// atomic, atomic_ack, cnp, other).
inline constexpr size_t kClassCount = 9;
const char* class_name(size_t cls);
size_t class_of(uint8_t opcode);

struct FlowTruth {
  std::string src, dst;  // IP addresses as text
  uint32_t qp = 0;       // BTH destination QP
  uint16_t sport = 0;
  uint64_t packets = 0, bytes = 0;
  std::array<uint64_t, kClassCount> classes{};
  std::array<uint64_t, 256> opcodes{};  // by opcode (an array: counted for every frame sent)
  uint64_t ecn_ce = 0, cnps = 0, naks = 0;
  uint64_t psn_gaps = 0;     // forward jumps over dropped packets
  uint64_t psn_skipped = 0;  // PSNs those jumps skipped (the holes)
};

class Truth {
 public:
  explicit Truth(const GenConfig& c);
  // One frame of `frame_len` bytes of packet `p` went out. Inline: it runs for every frame.
  void sent(const GenPacket& p, size_t frame_len) {
    FlowTruth& f = (p.reverse ? reverse_ : forward_)[p.qp];
    ++packets_;
    bytes_ += frame_len;
    ++f.packets;
    f.bytes += frame_len;
    const size_t cls = class_by_opcode_[p.opcode];
    ++f.classes[cls];
    ++f.opcodes[p.opcode];
    if (p.ce) ++f.ecn_ce;
    if (cls == 7) ++f.cnps;
    if (cls == 4 && ((p.syndrome >> 5) & 1)) ++f.naks;
    if (p.skipped_before) {
      ++f.psn_gaps;
      f.psn_skipped += p.skipped_before;
    }
  }
  uint64_t packets() const { return packets_; }
  uint64_t bytes() const { return bytes_; }
  // Flows in a fixed order: requester -> responder QPs first, then the reverse ones, by QP.
  std::vector<FlowTruth> flows() const;
  // {"packets":..,"bytes":..,"flows":[{...}]} plus what the caller adds (elapsed time, rates, the sink).
  std::string json(const std::string& extra_fields) const;
  std::string text() const;

 private:
  GenConfig c_;
  std::vector<FlowTruth> forward_, reverse_;
  uint64_t packets_ = 0, bytes_ = 0;
  std::array<uint8_t, 256> class_by_opcode_{};  // class_of() of every opcode, looked up once
};

}  // namespace rfab::gen
