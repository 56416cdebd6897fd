#include "rfab/wire/sample.hpp"

namespace rfab::wire {

std::vector<SampleFrame> sample_every_opcode(const SampleOptions& opt) {
  std::vector<SampleFrame> out;
  uint32_t rng = opt.seed * 2654435761u + 12345u;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  };
  uint16_t ip_id = static_cast<uint16_t>(opt.seed);
  for (const OpcodeInfo* info = opcode_table_begin(); info != opcode_table_end(); ++info) {
    SampleFrame s;
    FrameSpec& sp = s.spec;
    sp.eth.dst = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    sp.eth.src = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    if (opt.vlan >= 0) {
      sp.eth.vlan_count = 1;
      sp.eth.vlan[0] = VlanTag{kEtherVlan, opt.pcp, false, static_cast<uint16_t>(opt.vlan)};
    }
    sp.ipv6 = opt.ipv6;
    sp.ip4.src = 0x0A4D0002;  // 10.77.0.2
    sp.ip4.dst = 0x0A4D0001;  // 10.77.0.1
    sp.ip4.dscp = 26;
    sp.ip4.ecn = opt.ecn;
    sp.ip4.id = ip_id++;
    sp.ip6.src = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    sp.ip6.dst = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    sp.ip6.dscp = 26;
    sp.ip6.ecn = opt.ecn;
    sp.ip6.flow_label = next() & 0xFFFFF;
    sp.src_port = static_cast<uint16_t>(0xC000 | (next() & 0x3FFF));

    RoceFields& f = s.fields;
    f.bth.opcode = info->opcode;
    f.bth.dest_qp = 0x000011 + (next() & 0xFF);
    f.bth.psn = next() & 0xFFFFFF;
    f.bth.ack_req = info->is_request() && (info->pos == MsgPos::last || info->pos == MsgPos::only);
    f.bth.se = info->pos == MsgPos::only && info->kind == OpKind::send;
    f.headers = info->headers;
    f.deth = Deth{0x11111111, 0x000033};
    f.reth = Reth{0x00007f0012345000ull + (next() & 0xFFF), 0xABC00000u | (next() & 0xFFFF), 4096};
    f.atomic = AtomicEth{0x00007f0000001000ull, 0x1234, 7, 3};
    const bool nak = info->opcode == op::RC_ACK && (opt.seed & 1);
    f.aeth = Aeth{nak ? Aeth::make(AckType::nak, uint8_t(NakCode::psn_sequence_error))
                      : Aeth::make(AckType::ack, kAethCreditInvalid),
                  next() & 0xFFFFFF};
    f.atomic_ack = AtomicAckEth{0x0102030405060708ull};
    f.imm = 0xDEADBEEF;
    f.ieth_rkey = 0x5555;
    if (info->payload) {
      // First/middle packets are full-MTU; last/only carry odd sizes so the pad count is exercised.
      size_t len = (info->pos == MsgPos::first || info->pos == MsgPos::middle) ? 256 : 61 + (next() % 7);
      s.payload.resize(len);
      for (auto& b : s.payload) b = static_cast<uint8_t>(next());
    }
    s.bytes.resize(frame_encoded_len(sp, f.bth.opcode, s.payload.size()));
    auto n = encode_frame(sp, f, s.payload, s.bytes);
    if (n) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace rfab::wire
