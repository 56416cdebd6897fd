// The packets `rfab gen` sends, in order, from a seeded pseudo-random stream: messages drawn from the
// operation mix, round-robin over the QPs, segmented into FIRST/MIDDLE/LAST or ONLY packets for the MTU;
// READ requests answered by their READ responses; request packets dropped on purpose (their PSNs skipped),
// CE-marked, or answered by a CNP or a NAK at the configured rates.
//
// A dropped packet is never a flow's first request, a READ request, or the request right after a READ
// request: a collector cannot see a hole in any of those places (the first request starts its window, and
// the PSN after a READ request may jump by the READ's responses), so every PSN skipped here is one a
// correct collector must report as a hole.
#pragma once
#include <cstdint>
#include <cstddef>
#include <random>
#include <vector>

#include "rfab/gen/config.hpp"

namespace rfab::gen {

struct GenPacket {
  uint32_t qp = 0;        // QP index, 0 .. qps-1
  bool reverse = false;   // responder -> requester (READ responses, NAKs, CNPs); else requester -> responder
  uint8_t opcode = 0;
  uint32_t psn = 0;
  uint32_t payload_len = 0;
  uint64_t va = 0;        // RETH (WRITE FIRST/ONLY, READ request)
  uint32_t rkey = 0, dma_len = 0;
  uint8_t syndrome = 0;   // AETH (READ response FIRST/LAST/ONLY, ACK/NAK)
  uint32_t msn = 0;
  bool ack_req = false;
  bool ce = false;        // IP ECN CE instead of ECT(0)
  uint32_t skipped_before = 0;  // PSNs of this flow dropped right before this packet (holes it opens)
};

class TrafficModel {
 public:
  explicit TrafficModel(const GenConfig& c);
  // The next packet to put on the wire; the reference is valid until the next call. Inline: it runs for
  // every frame, and the queue is refilled only every few dozen packets.
  const GenPacket& next() {
    if (head_ == queue_.size()) refill();
    return queue_[head_++];
  }

 private:
  struct Qp {
    uint32_t psn = 0;          // next request PSN
    uint32_t msn = 0;          // messages completed
    uint64_t va = 0;
    bool sent_request = false;  // a request has gone out (the collector's window has started)
    bool after_read = false;    // the last request sent was a READ request
    uint32_t pending_skips = 0; // dropped PSNs not yet followed by a sent request
  };
  void refill();
  // The common stream without faults of one operation (WRITE or SEND), whose packets repeat every round
  // of the QPs but for their PSNs: the queue is that round (times a few), made once, and a refill only
  // writes the PSNs, which gives the packets queue_message would.
  bool make_cycle();
  void refill_cycle();
  void queue_message();
  void queue_request(Qp& q, uint32_t qi);
  void queue_plain_message(Qp& q, uint32_t qi, bool write);
  // Packet i of n of a WRITE or SEND message from q: its opcode, payload length, RETH (first packet of a
  // WRITE) and AckReq (last packet).
  void shape_segment(GenPacket& p, const Qp& q, bool write, uint32_t i, uint32_t n) const;
  // A draw only for a rate above 0 (the default: no faults, no draws).
  bool chance(double rate) { return rate > 0 && draw() < rate; }
  double draw();

  GenConfig c_;
  std::mt19937_64 rng_;
  std::vector<Qp> qps_;
  uint32_t packets_per_message_ = 1;  // of a WRITE or SEND (msg_size over the MTU, at least 1)
  uint32_t psns_per_read_ = 1;        // PSNs a READ request takes (its responses)
  bool faults_ = false;               // any fault rate above 0 (drops, CE marks, CNPs, NAKs)
  bool cyclic_ = false;               // the queue is a fixed cycle of packets (make_cycle)
  std::vector<GenPacket> queue_;  // whole messages' packets (and the CNPs/NAKs/responses they cause)
  size_t head_ = 0;               // the next of them to go out
  uint32_t next_qp_ = 0;
};

}  // namespace rfab::gen
