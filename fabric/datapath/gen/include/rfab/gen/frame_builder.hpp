// Turns a GenPacket into the bytes of its frame: Ethernet, IPv4/IPv6 (ECT(0), or CE when marked; a CNP is
// not ECN-capable), UDP from the QP's entropy port to the RoCE port, BTH and the opcode's extension headers
// (fabric/wire's encoder), a payload of a fixed pattern, and the ICRC over the real headers
// (frame::HeaderTemplate), so `rfab decode --verify-icrc` and tshark accept every frame. A flow's frames
// come from a template of their shape with only the PSN, the MSN and the ICRC patched (FrameTemplates),
// byte for byte what building from scratch gives; into a buffer that still holds a frame of the same or a
// kindred template (HeldFrame), only the bytes that differ are written.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "rfab/frame/frame_codec.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/gen/held_frames.hpp"
#include "rfab/gen/traffic_model.hpp"

namespace rfab::gen {

class FrameTemplates;

class FrameBuilder {
 public:
  explicit FrameBuilder(const GenConfig& c);
  ~FrameBuilder();
  FrameBuilder(const FrameBuilder&) = delete;  // the templates call back into this builder
  FrameBuilder& operator=(const FrameBuilder&) = delete;
  // The frame length of `p` (what build() writes).
  size_t frame_len(const GenPacket& p) const;
  // Writes the frame into `out` (at least frame_len(p) bytes) and returns its length. Throws GenError when
  // `out` is too small (the port's frames are shorter than the MTU asks).
  size_t build(const GenPacket& p, std::span<uint8_t> out) {
    HeldFrame unknown;
    return build(p, out, unknown);
  }
  // The same into a buffer that holds what `held` says (a frame this builder wrote there before, or
  // unknown), which is updated to the frame written now.
  size_t build(const GenPacket& p, std::span<uint8_t> out, HeldFrame& held);
  // The same frame built from scratch: encoder, headers, ICRC over all of it. Templates are made with it
  // (and shapes that cannot be patched, IPv6 ones whose UDP checksum covers the PSN, are built with it).
  size_t build_from_scratch(const GenPacket& p, std::span<uint8_t> out) const;

 private:
  GenConfig c_;
  frame::HeaderTemplate forward_, reverse_;
  std::vector<uint8_t> pattern_;
  std::unique_ptr<FrameTemplates> templates_;
};

}  // namespace rfab::gen
