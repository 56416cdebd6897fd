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
#include <cstring>
#include <functional>
#include <utility>
#include <span>
#include <vector>

#include "crc_delta.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/gen/traffic_model.hpp"
#include "rfab/wire/bytes.hpp"

namespace rfab::gen {

class FrameTemplates {
 public:
  // Builds a frame from scratch (with every field of the packet) into the span and returns its length.
  using BuildFn = std::function<size_t(const GenPacket&, std::span<uint8_t>)>;
  FrameTemplates(const GenConfig& c, BuildFn from_scratch);

  // Writes p's frame from its template into `out` (`room` bytes) and returns its length; 0 when p's shape
  // cannot be patched or the frame does not fit `room` (build it from scratch, which says why). Inline,
  // with the flow's last template tried first: this runs for every frame.
  size_t write(const GenPacket& p, uint8_t* out, size_t room) {
    const Template* t = nullptr;
    if (p.qp < qps_) {
      const Template* last = last_[(p.reverse ? qps_ : 0) + p.qp];
      t = last != nullptr && same_shape(last->shape, p) ? last : find(p);
    }
    if (t == nullptr || !t->patchable || room < t->bytes.size()) return 0;
    patch(*t, p, out);
    return t->bytes.size();
  }

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
  // shape_of(p) == s, without building the Shape.
  static bool same_shape(const Shape& s, const GenPacket& p) {
    return s.payload_len == p.payload_len && s.opcode == p.opcode && s.qp == p.qp && s.reverse == p.reverse &&
           s.ack_req == p.ack_req && s.ce == p.ce && s.va == p.va && s.rkey == p.rkey && s.dma_len == p.dma_len &&
           s.syndrome == p.syndrome;
  }
  const Template* find(const GenPacket& p);  // nullptr for a QP the configuration does not have
  Template make(const GenPacket& p);
  // The template's bytes into `out` with p's PSN (and MSN) written and the ICRC corrected for them.
  static void patch(const Template& t, const GenPacket& p, uint8_t* out) {
    const size_t n = t.bytes.size();
    std::memcpy(out, t.bytes.data(), n);
    uint32_t crc = t.icrc;
    auto put = [&](const Field& f, uint32_t v) {
      const uint8_t b[3] = {static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
      for (size_t k = 0; k < 3; ++k) {
        out[f.at + k] = b[k];
        crc ^= (*f.delta[k])[b[k]];
      }
    };
    put(t.psn, p.psn & 0xFFFFFF);
    if (t.has_msn) put(t.msn, p.msn & 0xFFFFFF);
    wire::store_le32(out + n - 4, crc);
  }
  bool locate(const std::vector<uint8_t>& base, const std::vector<uint8_t>& changed, Field& f, bool& found);

  BuildFn from_scratch_;
  uint32_t qps_;
  std::vector<std::vector<Template>> flows_;  // per flow (requester side QPs, then responder side)
  std::vector<const Template*> last_;         // per flow: the template used last (in flows_), or none
  CrcDelta crc_delta_;
};

}  // namespace rfab::gen
