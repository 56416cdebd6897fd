// Turns a GenPacket into the bytes of its frame: Ethernet, IPv4/IPv6 (ECT(0), or CE when marked; a CNP is
// not ECN-capable), UDP from the QP's entropy port to the RoCE port, BTH and the opcode's extension headers
// (fabric/wire's encoder), a payload of a fixed pattern, and the ICRC over the real headers
// (frame::HeaderTemplate), so `rfab decode --verify-icrc` and tshark accept every frame.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rfab/frame/frame_codec.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/gen/traffic_model.hpp"

namespace rfab::gen {

class FrameBuilder {
 public:
  explicit FrameBuilder(const GenConfig& c);
  // The frame length of `p` (what build() writes).
  size_t frame_len(const GenPacket& p) const;
  // Writes the frame into `out` (at least frame_len(p) bytes) and returns its length. Throws GenError when
  // `out` is too small (the port's frames are shorter than the MTU asks).
  size_t build(const GenPacket& p, std::span<uint8_t> out) const;

 private:
  GenConfig c_;
  frame::HeaderTemplate forward_, reverse_;
  std::vector<uint8_t> pattern_;
};

}  // namespace rfab::gen
