// Sample RoCE v2 traffic built with the encoder: one frame of every opcode in the table, with distinct,
// recognisable field values. Used by `rfab synth`, the tshark cross-check, fuzz seeds and benchmarks.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/wire/packet.hpp"

namespace rfab::wire {

struct SampleFrame {
  RoceFields fields;
  std::vector<uint8_t> payload;
  FrameSpec spec;
  std::vector<uint8_t> bytes;  // the encoded frame
};

struct SampleOptions {
  bool ipv6 = false;
  int vlan = -1;          // VLAN id, or -1 for untagged
  uint8_t pcp = 3;        // VLAN priority when tagged
  Ecn ecn = Ecn::ect0;    // RoCE v2 traffic is ECN-capable
  uint32_t seed = 1;      // varies payload bytes and PSNs
};

// One frame per opcode in the table, in table order.
std::vector<SampleFrame> sample_every_opcode(const SampleOptions& opt = {});

}  // namespace rfab::wire
