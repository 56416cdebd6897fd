// What `rfab gen` generates: the traffic's shape (operations, QPs, sizes), the faults it injects on purpose
// (skipped PSNs, ECN-CE marks, CNPs, NAKs) and the addresses it puts on the frames.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "rfab/frame/ethernet.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::gen {

class GenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Relative weights of the RC operations a message is drawn from ("write=70,send=20,read=10").
struct OpMix {
  uint32_t write = 100, send = 0, read = 0;
  uint32_t total() const { return write + send + read; }
};

// Parses "op=weight,..." (ops: write, send, read; weights integers, at least one above 0). Throws GenError
// naming the offending part.
OpMix parse_mix(std::string_view text);
std::string to_string(const OpMix& m);

struct GenConfig {
  OpMix mix;
  uint32_t qps = 1;            // requester QPs, messages round-robin over them
  uint32_t msg_size = 4096;    // bytes per message (0: zero-length operations)
  uint32_t mtu = 1024;         // RoCE path MTU: 256, 512, 1024, 2048 or 4096
  uint64_t seed = 1;           // every random choice derives from it: the same seed, the same frames
  double gap_rate = 0;         // fraction of request packets not sent (their PSNs skipped: simulated loss)
  double ecn_ce_rate = 0;      // fraction of sent request packets marked ECN CE (the rest ECT(0))
  double cnp_rate = 0;         // per sent request packet: chance of a CNP back to its QP
  double nak_rate = 0;         // per sent request packet: chance of a NAK (PSN sequence error) back to its QP
  frame::Mac src_mac{{0x02, 0, 0, 0, 0, 0x01}}, dst_mac{{0x02, 0, 0, 0, 0, 0x02}};
  udp::Address src_ip = *udp::Address::parse("10.0.0.1"), dst_ip = *udp::Address::parse("10.0.0.2");
  uint16_t sport_base = 49152;  // QP i sends from UDP port sport_base + i (ECMP entropy per QP)
  uint16_t roce_port = 4791;
  uint32_t requester_qpn = 0x11;  // QP i of the requester is requester_qpn + i, of the responder
  uint32_t responder_qpn = 0x211;  // responder_qpn + i
  uint32_t start_psn = 0;

  // Throws GenError naming the setting that is out of range or inconsistent.
  void check() const;
};

}  // namespace rfab::gen
