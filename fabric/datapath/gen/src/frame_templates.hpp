// The generator's per-flow frame templates: the frames of one flow differ, packet to packet, only in the
// PSN, the MSN (of an AETH) and the ICRC, as long as the rest of the packet (opcode, lengths, RETH, ECN
// mark ...) is the same. A template is that frame built once from scratch; a packet of the same shape is
// the template copied, its PSN and MSN bytes written, and its ICRC corrected by the CRC change of those
// bytes (CrcDelta). Which bytes hold the PSN and MSN is found by building the shape three times (PSN and
// MSN at zero, then each all ones) and comparing: a shape where more than the ICRC and those bytes changes
// (an IPv6 frame, whose UDP checksum covers the PSN) gets no template and is built from scratch.
//
// Into a buffer that still holds a frame of a template (HeldFrame), less is written: nothing but the PSN,
// MSN and ICRC for the same template, and one short header range more for a template of the same kin
// (same length and field positions, bytes differing only inside that range: another QP's destination QP
// and UDP port, a CE mark's TOS and IPv4 checksum).
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <utility>
#include <span>
#include <vector>

#include "crc_delta.hpp"
#include "rfab/gen/config.hpp"
#include "rfab/gen/held_frames.hpp"
#include "rfab/gen/traffic_model.hpp"
#include "rfab/wire/bytes.hpp"

namespace rfab::gen {

class FrameTemplates {
 public:
  // Builds a frame from scratch (with every field of the packet) into the span and returns its length.
  using BuildFn = std::function<size_t(const GenPacket&, std::span<uint8_t>)>;
  FrameTemplates(const GenConfig& c, BuildFn from_scratch);

  // Writes p's frame from its template into `out` (`room` bytes) and returns its length; 0 when p's shape
  // cannot be patched or the frame does not fit `room` (build it from scratch, which says why). `held` is
  // what `out` holds (updated: unknown after a 0). Inline, with the flow's last template tried first: this
  // runs for every frame.
  size_t write(const GenPacket& p, uint8_t* out, size_t room, HeldFrame& held) {
    const Template* t = nullptr;
    if (p.qp < qps_) {
      const Template* last = last_[(p.reverse ? qps_ : 0) + p.qp];
      t = last != nullptr && same_shape(last->shape, p) ? last : find(p);
    }
    if (t == nullptr || !t->patchable || room < t->bytes.size()) {
      held = {};
      return 0;
    }
    const auto* h = held.generation == generation_ ? static_cast<const Template*>(held.frame) : nullptr;
    if (h == nullptr || (h != t && (h->kin != t->kin || t->kin == nullptr))) {
      std::memcpy(out, t->bytes.data(), t->bytes.size());
      held = {t, generation_};
    } else if (h != t) {
      copy_kin_range(*t, out);
      held.frame = t;
    }
    patch_fields(*t, p, out);
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
  // Templates whose bytes (PSN, MSN, ICRC aside) differ only inside [lo, hi): `bytes` is the first one's,
  // the range grows to cover every member's differences from it, so any two members differ only there.
  struct Kin {
    std::vector<uint8_t> bytes;
    size_t psn_at = 0, msn_at = 0;
    bool has_msn = false;
    size_t lo = 0, hi = 0;
  };
  struct Template {
    Shape shape;
    const Kin* kin = nullptr;  // none: written whole over another template's frame
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
    std::memcpy(out, t.bytes.data(), t.bytes.size());
    patch_fields(t, p, out);
  }
  // p's PSN (and MSN) and the ICRC written over a copy of the template's other bytes.
  static void patch_fields(const Template& t, const GenPacket& p, uint8_t* out) {
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
    wire::store_le32(out + t.bytes.size() - 4, crc);
  }
  // t's bytes of its kin's range over a frame of the same kin, 16 at a time: bytes past the range are the
  // same in both (or the PSN, MSN and ICRC, written next), so whole blocks need no byte count.
  static void copy_kin_range(const Template& t, uint8_t* out) {
    const size_t n = t.bytes.size(), lo = t.kin->lo, hi = t.kin->hi;
    for (size_t at = lo; at < hi; at += kBlock) {
      const size_t from = std::min(at, n - kBlock);
      std::memcpy(out + from, t.bytes.data() + from, kBlock);
    }
  }
  // Puts t into the kin it fits (or a new one), when it can be patched.
  void join_kin(Template& t);
  bool locate(const std::vector<uint8_t>& base, const std::vector<uint8_t>& changed, Field& f, bool& found);

  static constexpr size_t kBlock = 16;  // every frame is longer (Ethernet + IP + UDP + BTH at least)

  BuildFn from_scratch_;
  uint32_t qps_;
  // Per flow (requester side QPs, then responder side); a deque, so a template stays where it is while
  // the flow gets more.
  std::vector<std::deque<Template>> flows_;
  std::vector<const Template*> last_;  // per flow: the template used last (in flows_), or none
  // Goes up whenever templates are dropped: a HeldFrame of an older generation may name one that is gone.
  uint64_t generation_ = 1;
  std::deque<Kin> kins_;
  CrcDelta crc_delta_;
};

}  // namespace rfab::gen
