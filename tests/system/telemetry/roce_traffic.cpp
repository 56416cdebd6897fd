#include "roce_traffic.hpp"

#include <algorithm>
#include <stdexcept>

#include "rfab/wire/packet.hpp"

namespace rfab::test {
namespace {

using namespace rfab::wire;

struct Endpoints {
  bool ipv6 = false;
  int vlans = 0;  // 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q)
  bool reverse = false;  // 10.77.0.2 -> 10.77.0.1
};

std::string src_of(const Endpoints& e) {
  if (e.ipv6) return e.reverse ? "fd00::2" : "fd00::1";
  return e.reverse ? "10.77.0.2" : "10.77.0.1";
}
std::string dst_of(const Endpoints& e) {
  if (e.ipv6) return e.reverse ? "fd00::1" : "fd00::2";
  return e.reverse ? "10.77.0.1" : "10.77.0.2";
}

FrameSpec spec_of(const Endpoints& e, Ecn ecn) {
  FrameSpec sp;
  sp.eth.dst = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  sp.eth.src = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  if (e.vlans == 1) {
    sp.eth.vlan_count = 1;
    sp.eth.vlan[0] = VlanTag{kEtherVlan, 3, false, 100};
  } else if (e.vlans == 2) {
    sp.eth.vlan_count = 2;
    sp.eth.vlan[0] = VlanTag{kEtherQinQ, 0, false, 200};
    sp.eth.vlan[1] = VlanTag{kEtherVlan, 3, false, 100};
  }
  sp.ipv6 = e.ipv6;
  uint32_t a = 0x0A4D0001, b = 0x0A4D0002;  // 10.77.0.1, 10.77.0.2
  sp.ip4.src = e.reverse ? b : a;
  sp.ip4.dst = e.reverse ? a : b;
  sp.ip4.dscp = 26;
  sp.ip4.ecn = ecn;
  Ipv6Addr x{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, y = x;
  y[15] = 2;
  sp.ip6.src = e.reverse ? y : x;
  sp.ip6.dst = e.reverse ? x : y;
  sp.ip6.dscp = 26;
  sp.ip6.ecn = ecn;
  return sp;
}

unsigned op_class(uint8_t opcode) {
  const OpcodeInfo* info = opcode_info(opcode);
  if (!info) return RFAB_OPC_OTHER;
  switch (info->kind) {
    case OpKind::send: return RFAB_OPC_SEND;
    case OpKind::write: return RFAB_OPC_WRITE;
    case OpKind::read_request: return RFAB_OPC_READ_REQUEST;
    case OpKind::read_response: return RFAB_OPC_READ_RESPONSE;
    case OpKind::ack: return RFAB_OPC_ACK;
    case OpKind::atomic: return RFAB_OPC_ATOMIC;
    case OpKind::atomic_ack: return RFAB_OPC_ATOMIC_ACK;
    case OpKind::cnp: return RFAB_OPC_CNP;
  }
  return RFAB_OPC_OTHER;
}

class Builder {
 public:
  explicit Builder(Plan& p) : p_(p) {}

  // The UDP source port of the packets built from now on.
  void sport(uint16_t port) { sport_ = port; }

  // Encodes one packet and adds the facts every collector must count for it (packets, bytes, class,
  // CE, CNP, NAK). PSN-derived counters (gaps, lost, backwards) are set by the caller.
  ExpectedFlow& packet(const Endpoints& e, uint8_t opcode, uint32_t qp, uint32_t psn, size_t payload_len = 64,
                       Ecn ecn = Ecn::ect0, uint8_t syndrome = Aeth::make(AckType::ack, kAethCreditInvalid)) {
    FrameSpec sp = spec_of(e, ecn);
    sp.src_port = sport_;
    RoceFields f;
    f.bth.opcode = opcode;
    f.bth.dest_qp = qp;
    f.bth.psn = psn & 0xFFFFFF;
    f.reth = Reth{0x7f0000001000ull, 0x1234, static_cast<uint32_t>(payload_len ? payload_len : 3 * 1024)};
    f.aeth = Aeth{syndrome, 7};
    f.atomic = AtomicEth{0x7f0000002000ull, 0x1234, 1, 0};
    const OpcodeInfo* info = opcode_info(opcode);
    if (!info) throw std::logic_error("test plan uses an undefined opcode");
    std::vector<uint8_t> payload(info->payload ? payload_len : 0, 0x5A);
    std::vector<uint8_t> frame(frame_encoded_len(sp, opcode, payload.size()));
    auto n = encode_frame(sp, f, payload, frame);
    if (!n) throw std::logic_error("encode_frame: " + n.error().message());
    frame.resize(*n);

    ExpectedFlow& fl = flow(src_of(e), dst_of(e), qp);
    fl.packets++;
    fl.bytes += frame.size();
    if (fl.entropy.count(sport_) || fl.entropy.size() < RFAB_ENTROPY_SLOTS) fl.entropy[sport_]++;
    else fl.entropy_other++;
    unsigned cls = op_class(opcode);
    fl.op[cls]++;
    if (ecn == Ecn::ce) fl.ce++, p_.ce++;
    if (cls == RFAB_OPC_CNP) fl.cnps++, p_.cnps++;
    if (cls == RFAB_OPC_ACK) {
      Aeth a{syndrome, 0};
      if (a.type() == AckType::nak) fl.naks[a.value() <= 4 ? unsigned{a.value()} : unsigned{RFAB_NAK_OTHER}]++;
      if (a.type() == AckType::rnr_nak) fl.naks[RFAB_NAK_RNR]++;
      if (a.type() == AckType::nak || a.type() == AckType::rnr_nak) p_.naks++, p_.nak_events++;
    }
    p_.roce_packets++;
    p_.roce_bytes += frame.size();
    p_.frames.push_back(std::move(frame));
    return fl;
  }

  // A UDP datagram to another port (not RoCE), and frames cut short inside the RoCE headers.
  void not_roce(const Endpoints& e) {
    FrameSpec sp = spec_of(e, Ecn::not_ect);
    sp.dst_port = 4792;
    RoceFields f;
    f.bth.opcode = op::RC_SEND_ONLY;
    std::vector<uint8_t> payload(32, 1);
    std::vector<uint8_t> frame(frame_encoded_len(sp, f.bth.opcode, payload.size()));
    auto n = encode_frame(sp, f, payload, frame);
    if (!n) throw std::logic_error("encode_frame: " + n.error().message());
    frame.resize(*n);
    p_.frames.push_back(std::move(frame));
    p_.not_roce++;
  }
  void truncated(const Endpoints& e, uint8_t opcode, size_t keep_after_udp) {
    FrameSpec sp = spec_of(e, Ecn::ect0);
    RoceFields f;
    f.bth.opcode = opcode;
    std::vector<uint8_t> frame(frame_encoded_len(sp, opcode, 0));
    auto n = encode_frame(sp, f, {}, frame);
    if (!n) throw std::logic_error("encode_frame: " + n.error().message());
    if (e.ipv6 || e.vlans) throw std::logic_error("truncated(): plain IPv4 only");
    size_t udp_end = kEthLen + kIpv4Len + kUdpLen;
    frame.resize(udp_end + keep_after_udp);
    // Keep IP and UDP consistent with the shorter datagram: only the RoCE headers are cut short.
    auto put16 = [&](size_t off, size_t v) {
      frame[off] = static_cast<uint8_t>(v >> 8);
      frame[off + 1] = static_cast<uint8_t>(v);
    };
    put16(kEthLen + 2, frame.size() - kEthLen);
    put16(kEthLen + 10, 0);
    put16(kEthLen + 10, ipv4_header_checksum(frame.data() + kEthLen, kIpv4Len));
    put16(kEthLen + kIpv4Len + 4, frame.size() - kEthLen - kIpv4Len);
    p_.frames.push_back(std::move(frame));
    p_.malformed++;
  }

  ExpectedFlow& flow(const std::string& src, const std::string& dst, uint32_t qp) {
    for (auto& f : p_.flows)
      if (f.src == src && f.dst == dst && f.qp == qp) return f;
    ExpectedFlow f;
    f.src = src, f.dst = dst, f.qp = qp;
    p_.flows.push_back(std::move(f));
    return p_.flows.back();
  }

 private:
  Plan& p_;
  uint16_t sport_ = 0xC000;  // FrameSpec's default
};

// rfab's k-th spray port of a QP pair (fabric/rc entropy_port): a stride of 0x9E5 from a base.
uint16_t spray_port(uint32_t k) { return static_cast<uint16_t>(0xC000 | ((0x155 + k * 0x9E5u) & 0x3FFF)); }

}  // namespace

void ExpectedFlow::reorder(uint64_t distance) {
  reordered++, backwards++;
  distance_sum += distance;
  distance_max = std::max(distance_max, distance);
  unsigned b = 0;
  while (b + 1 < RFAB_REORDER_BUCKETS && distance >= (uint64_t{2} << b)) ++b;  // 1, 2-3, 4-7, .., 128+
  distance_hist[b]++;
}

uint64_t Plan::sum(uint64_t ExpectedFlow::*field) const {
  uint64_t n = 0;
  for (const auto& f : flows) n += f.*field;
  return n;
}

const ExpectedFlow* Plan::find(const std::string& src, const std::string& dst, uint32_t qp) const {
  for (const auto& f : flows)
    if (f.src == src && f.dst == dst && f.qp == qp) return &f;
  return nullptr;
}

Plan make_plan(unsigned per_qp) {
  if (per_qp < 8) throw std::invalid_argument("make_plan: per_qp must be at least 8");
  Plan p;
  p.flows.reserve(32);  // Builder hands out references into this vector
  Builder b(p);
  const Endpoints fwd{}, rev{false, 0, true}, v6{true, 0, false}, vlan{false, 1, false}, qinq{false, 2, false};

  // Four QPs of in-order SENDs; QP 0x100 has two CE-marked packets.
  for (uint32_t q = 0; q < 4; ++q)
    for (unsigned i = 0; i < per_qp; ++i)
      b.packet(fwd, op::RC_SEND_ONLY, 0x100 + q, 1000 + i, 64,
               (q == 0 && (i == 2 || i == 6)) ? Ecn::ce : Ecn::ect0);

  // WRITEs whose PSNs wrap through 0: indexes 10..12 held back (one gap of 3), then sent after index 19:
  // reordered at distances 9, 8 and 7, nothing lost.
  const uint32_t base = 0xFFFFFA;
  for (unsigned i = 0; i < 20; ++i)
    if (i < 10 || i > 12) b.packet(fwd, op::RC_WRITE_ONLY, 0x200, base + i, 128);
  for (unsigned i = 10; i <= 12; ++i) b.packet(fwd, op::RC_WRITE_ONLY, 0x200, base + i, 128);
  {
    auto& f = b.flow("10.77.0.1", "10.77.0.2", 0x200);
    f.gaps = 1, f.holes = 3;
    f.reorder(9), f.reorder(8), f.reorder(7);
  }

  // QP 0x210, PSNs wrapping through 0 on four source ports: a real loss (two PSNs never sent, lost once
  // the window moves RFAB_PSN_WINDOW PSNs past them), a swap (reordered at distance 1), a duplicate, the
  // lost PSN arriving after all (below the window) and a hole left open at the end (outstanding).
  {
    const uint32_t q = 0x210, w = 0xFFFFF0;
    auto send = [&](uint32_t i) {
      b.sport(static_cast<uint16_t>(0xC101 + i % 4));
      b.packet(fwd, op::RC_WRITE_ONLY, q, w + i, 64);
    };
    for (uint32_t i = 0; i < 10; ++i) send(i);
    send(12), send(13);  // 10 and 11 never sent: a gap of 2
    send(15), send(14);  // a gap of 1, filled at distance 1
    send(13);            // a duplicate
    const uint32_t top = 11 + RFAB_PSN_WINDOW;
    for (uint32_t i = 16; i <= top; ++i) send(i);  // at top - 1 and top, PSNs 10 and 11 leave the window: lost
    send(11);            // RFAB_PSN_WINDOW below the highest: below the window
    send(top + 2);       // top + 1 skipped: outstanding at the end
    b.sport(0xC000);
    auto& f = b.flow("10.77.0.1", "10.77.0.2", q);
    f.gaps = 3, f.holes = 4, f.lost = 2;
    f.reorder(1);
    f.duplicates = 1, f.too_old = 1, f.backwards += 2;
    f.outstanding = 1;
    p.lost_events += 2;
  }

  // A READ request consumes three PSNs (its responses): the next SEND at +3 is not a gap.
  b.packet(fwd, op::RC_READ_REQUEST, 0x700, 50, 3 * 1024);
  b.packet(fwd, op::RC_SEND_ONLY, 0x700, 53);
  b.packet(fwd, op::RC_SEND_ONLY, 0x700, 54);

  // The responder's side: read responses, ACKs and every kind of NAK on QP 0x300.
  b.packet(rev, op::RC_READ_RESPONSE_FIRST, 0x300, 50, 1024);
  b.packet(rev, op::RC_READ_RESPONSE_MIDDLE, 0x300, 51, 1024);
  b.packet(rev, op::RC_READ_RESPONSE_LAST, 0x300, 52, 100);
  for (unsigned i = 0; i < 5; ++i) b.packet(rev, op::RC_ACK, 0x300, 60 + i);
  b.packet(rev, op::RC_ACK, 0x300, 70, 0, Ecn::ect0, Aeth::make(AckType::nak, uint8_t(NakCode::psn_sequence_error)));
  b.packet(rev, op::RC_ACK, 0x300, 70, 0, Ecn::ect0, Aeth::make(AckType::nak, uint8_t(NakCode::psn_sequence_error)));
  b.packet(rev, op::RC_ACK, 0x300, 71, 0, Ecn::ect0, Aeth::make(AckType::rnr_nak, 0x0E));
  b.packet(rev, op::RC_ACK, 0x300, 72, 0, Ecn::ect0, Aeth::make(AckType::nak, uint8_t(NakCode::remote_access_error)));

  // Ten CNPs to QP 0x400: one burst (threshold 8).
  for (unsigned i = 0; i < 10; ++i) b.packet(rev, op::CNP, 0x400, 0, 0);
  p.cnp_burst_events += 1;

  // An 802.1Q-tagged QP, a double-tagged one, and an IPv6 one with one CE mark.
  for (unsigned i = 0; i < per_qp; ++i) b.packet(vlan, op::RC_SEND_ONLY, 0x500, i);
  for (unsigned i = 0; i < 3; ++i) b.packet(qinq, op::RC_SEND_ONLY, 0x501, i);
  for (unsigned i = 0; i < per_qp; ++i) b.packet(v6, op::RC_WRITE_ONLY, 0x600, 7 + i, 256, i == 4 ? Ecn::ce : Ecn::ect0);
  b.packet(v6, op::RC_FETCH_ADD, 0x600, 7 + per_qp, 0);

  // Not RoCE, and RoCE too short to parse.
  for (unsigned i = 0; i < 5; ++i) b.not_roce(fwd);
  b.truncated(fwd, op::RC_SEND_ONLY, 6);  // half a BTH
  b.truncated(rev, op::RC_ACK, 12);       // BTH but no AETH
  return p;
}

Plan make_jumbo_plan() {
  Plan p;
  p.flows.reserve(1);
  Builder b(p);
  const Endpoints fwd{};
  for (uint32_t psn = 100; psn < 108; ++psn) b.packet(fwd, op::RC_WRITE_ONLY, 0x900, psn, 4096, psn == 103 ? Ecn::ce : Ecn::ect0);
  for (uint32_t psn = 110; psn < 114; ++psn) b.packet(fwd, op::RC_WRITE_ONLY, 0x900, psn, 4096);  // 108, 109 lost
  b.packet(fwd, op::RC_WRITE_ONLY, 0x900, 108, 4096);                                            // resent late
  auto& f = b.flow("10.77.0.1", "10.77.0.2", 0x900);
  f.gaps = 1, f.holes = 2;
  f.reorder(5);         // 113 - 108
  f.outstanding = 1;    // 109: too few packets after it to leave the window
  return p;
}

Plan make_spray_plan(unsigned qps, unsigned blocks, const std::vector<uint32_t>& drop) {
  Plan p;
  p.flows.reserve(qps);
  Builder b(p);
  auto sent = [&](uint32_t off) { return std::find(drop.begin(), drop.end(), off) == drop.end(); };
  for (uint32_t q = 0; q < qps; ++q) {
    const uint32_t qp = 0x300 + q, first = 0x1000 * q + 7;
    b.sport(spray_port(0));
    b.packet(Endpoints{}, op::RC_WRITE_ONLY, qp, first, 256);
    auto& f = b.flow("10.77.0.1", "10.77.0.2", qp);
    uint32_t highest = 0;  // offset from `first` of the highest PSN sent so far
    for (uint32_t blk = 0; blk < blocks; ++blk) {
      // Offsets 8*blk+1 .. 8*blk+8, last-first: the first one sent jumps past the highest so far (its
      // skipped PSNs become holes); each later one fills its hole at its distance from the new highest.
      uint32_t top = 0;
      for (uint32_t k = 8; k >= 1; --k) {
        const uint32_t off = 8 * blk + k;
        if (!sent(off)) continue;
        b.sport(spray_port(off % 8));
        b.packet(Endpoints{}, op::RC_WRITE_ONLY, qp, first + off, 256);
        if (top == 0) {
          top = off;
          if (off > highest + 1) f.gaps++, f.holes += off - highest - 1;
          highest = off;
        } else {
          f.reorder(top - off);
        }
      }
    }
    // Dropped PSNs: lost once the highest PSN is RFAB_PSN_WINDOW past them, otherwise open at the end.
    for (uint32_t d : drop)
      if (d >= 1 && d <= 8 * blocks) (highest - d >= RFAB_PSN_WINDOW ? f.lost : f.outstanding)++;
  }
  b.sport(0xC000);
  return p;
}

Plan make_deep_reorder_plan() {
  Plan p;
  p.flows.reserve(1);
  Builder b(p);
  const uint32_t q = 0xA00, first = 0xFFFF00;  // wraps through 0 at offset 256
  auto send = [&](uint32_t off) {
    b.sport(spray_port(off % 8));
    b.packet(Endpoints{}, op::RC_WRITE_ONLY, q, (first + off) & 0xFFFFFF, 256);
  };
  // Offsets 0..780. 50 arrives after 249 (250 is held back too) and 250 after 450: 199 and 200 PSNs late; 300 arrives 255 late (the
  // window's lowest PSN); 400 arrives 256 late (it left the window when 656 came: lost, then too old);
  // 500 never arrives and leaves the window at 756; 770 is still open at the end; 100 arrives twice.
  auto late = [](uint32_t off) { return off == 50 || off == 250 || off == 300 || off == 400 || off == 500 || off == 770; };
  for (uint32_t off = 0; off <= 780; ++off) {
    if (!late(off)) send(off);
    if (off == 100) send(100);
    if (off == 250) send(50);
    if (off == 450) send(250);
    if (off == 555) send(300);
    if (off == 656) send(400);
  }
  b.sport(0xC000);
  auto& f = b.flow("10.77.0.1", "10.77.0.2", q);
  f.gaps = 6, f.holes = 6;
  f.reorder(199), f.reorder(200), f.reorder(255);
  f.lost = 2;  // 400 (window, then too old) and 500
  f.too_old = 1, f.duplicates = 1, f.backwards += 2;
  f.outstanding = 1;
  p.lost_events += 2;
  return p;
}

Plan make_entropy_overflow_plan() {
  Plan p;
  p.flows.reserve(1);
  Builder b(p);
  for (uint32_t i = 0; i < RFAB_ENTROPY_SLOTS + 4; ++i) {
    b.sport(static_cast<uint16_t>(0xD000 + 16 * i));  // all the same home slot (port % 16 == 0)
    b.packet(Endpoints{}, op::RC_SEND_ONLY, 0x800, 2 * i, 64);
    b.packet(Endpoints{}, op::RC_SEND_ONLY, 0x800, 2 * i + 1, 64);
  }
  return p;
}

namespace {
// In-order SENDs on `qps` QPs, `per_qp` each: QP by QP, or one packet per QP per round.
Plan in_order_sends(unsigned qps, unsigned per_qp, size_t payload, bool round_robin) {
  Plan p;
  p.flows.reserve(qps);
  Builder b(p);
  for (unsigned k = 0; k < qps * per_qp; ++k) {
    const uint32_t q = round_robin ? k % qps : k / per_qp;
    const uint32_t psn = round_robin ? k / qps : k % per_qp;
    b.packet(Endpoints{}, op::RC_SEND_ONLY, 0x100 + q, psn, payload);
  }
  return p;
}
}  // namespace

Plan make_clean_plan(unsigned qps, unsigned per_qp, size_t payload) {
  return in_order_sends(qps, per_qp, payload, false);
}

Plan make_round_robin_plan(unsigned qps, unsigned rounds, size_t payload) {
  return in_order_sends(qps, rounds, payload, true);
}

}  // namespace rfab::test
