#include "rfab/gen/frame_builder.hpp"

#include "frame_templates.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::gen {
namespace w = rfab::wire;

FrameBuilder::FrameBuilder(const GenConfig& c)
    : c_(c),
      forward_(c.src_mac, c.dst_mac, c.src_ip, c.dst_ip),
      reverse_(c.dst_mac, c.src_mac, c.dst_ip, c.src_ip),
      pattern_(c.mtu) {
  // Recognisable and not all zero, so a decoder's payload view and a corrupted byte both show.
  for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<uint8_t>(i * 7 + (c.seed & 0xFF));
  templates_ = std::make_unique<FrameTemplates>(
      c, [this](const GenPacket& p, std::span<uint8_t> out) { return build_from_scratch(p, out); });
}

FrameBuilder::~FrameBuilder() = default;

size_t FrameBuilder::frame_len(const GenPacket& p) const {
  return forward_.len() + w::roce_encoded_len(p.opcode, p.payload_len);
}

size_t FrameBuilder::build(const GenPacket& p, std::span<uint8_t> out, HeldFrame& held) {
  if (const size_t len = templates_->write(p, out.data(), out.size(), held)) return len;
  return build_from_scratch(p, out);  // no template for this shape, or `out` too small (the clear error)
}

size_t FrameBuilder::build_from_scratch(const GenPacket& p, std::span<uint8_t> out) const {
  const frame::HeaderTemplate& hdr = p.reverse ? reverse_ : forward_;
  const size_t len = frame_len(p);
  if (out.size() < len)
    throw GenError("a " + std::to_string(len) + "-byte frame does not fit the port's " + std::to_string(out.size()) +
                   "-byte frames (use a smaller --mtu, or larger frames on the port)");
  w::RoceFields f;
  f.bth.opcode = p.opcode;
  f.bth.ack_req = p.ack_req;
  f.bth.psn = p.psn;
  f.bth.dest_qp = p.reverse ? c_.requester_qpn + p.qp : c_.responder_qpn + p.qp;
  f.reth = {p.va, p.rkey, p.dma_len};
  f.aeth.syndrome = p.syndrome;
  f.aeth.msn = p.msn;
  const auto udp_payload = w::encode_roce(f, std::span<const uint8_t>(pattern_.data(), p.payload_len),
                                          out.subspan(hdr.len()));
  if (!udp_payload) throw GenError("cannot encode opcode " + std::to_string(p.opcode));
  const uint8_t tos = p.opcode == w::op::CNP ? 0 : p.ce ? 3 : frame::kEct0;
  const auto sport = static_cast<uint16_t>(c_.sport_base + p.qp);
  return hdr.finish(out.data(), *udp_payload, sport, c_.roce_port, tos, c_.dst_ip.v6);
}

}  // namespace rfab::gen
