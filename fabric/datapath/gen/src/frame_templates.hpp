// The generator's per-flow frame templates: the frames of one flow differ, packet to packet, only in the
// PSN, the MSN (of an AETH) and the ICRC, as long as the rest of the packet (opcode, lengths, RETH, ECN
// mark ...) is the same. A template is that frame built once from scratch; a packet of the same shape is
// the template copied, its PSN and MSN bytes written, and its ICRC corrected by the CRC change of those
// bytes (CrcDelta). Which bytes hold the PSN and MSN is found by building the shape three times (PSN and
// MSN at zero, then each all ones) and comparing: a shape where more than the ICRC and those bytes changes
// (an IPv6 frame, whose UDP checksum covers the PSN) gets no template and is built from scratch.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <span>
#include <vector>

#include "crc_delta.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/gen/traffic_model.hpp"

namespace rfab::gen {

class FrameTemplates {
 public:
  // Builds a frame from scratch (with every field of the packet) into the span and returns its length.
  using BuildFn = std::function<size_t(const GenPacket&, std::span<uint8_t>)>;
  FrameTemplates(const GenConfig& c, BuildFn from_scratch);

  // Writes p's frame from its template into `out` (`room` bytes) and returns its length; 0 when p's shape
  // cannot be patched or the frame does not fit `room` (build it from scratch, which says why).
  size_t write(const GenPacket& p, uint8_t* out, size_t room);

 private:
  // Everything but the PSN and the MSN that the frame's bytes depend on.
  struct Shape {
    uint32_t qp = 0, payload_len = 0, rkey = 0, dma_len = 0;
    uint64_t va = 0;
    uint8_t opcode = 0, syndrome = 0;
    bool reverse = false, ack_req = false, ce = false;
    bool operator==(const Shape&) const = default;
  };
  struct Field {  // a 24-bit big-endian field and the ICRC change tables of its three bytes
    size_t at = 0;
    std::array<const CrcDelta::Table*, 3> delta{};
  };
  struct Template {
    Shape shape;
    bool patchable = false;
    std::vector<uint8_t> bytes;  // PSN and MSN zero
    uint32_t icrc = 0;           // of `bytes`
    Field psn;
    bool has_msn = false;
    Field msn;
  };
  static Shape shape_of(const GenPacket& p);
  static bool same_shape(const Shape& s, const GenPacket& p);
  const Template* find(const GenPacket& p);  // nullptr for a QP the configuration does not have
  Template make(const GenPacket& p);
  static void patch(const Template& t, const GenPacket& p, uint8_t* out);
  bool locate(const std::vector<uint8_t>& base, const std::vector<uint8_t>& changed, Field& f, bool& found);

  BuildFn from_scratch_;
  uint32_t qps_;
  std::vector<std::vector<Template>> flows_;  // per flow (requester side QPs, then responder side)
  std::vector<size_t> last_;                  // per flow: the template used last
  CrcDelta crc_delta_;
};

}  // namespace rfab::gen
