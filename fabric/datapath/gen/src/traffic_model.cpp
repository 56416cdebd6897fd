#include "rfab/gen/traffic_model.hpp"

#include <algorithm>

#include "rfab/wire/headers.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::gen {
namespace op = rfab::wire::op;
namespace {

constexpr uint32_t kPsnMask = 0xFFFFFF;
constexpr uint32_t kRkey = 0x1234;
constexpr size_t kQueueAhead = 32;  // packets queued at a refill (at least)
constexpr size_t kMaxCycle = 1024;  // packets of a round of the QPs that is kept as a cycle, at most

enum class Op { write, send, read };

// FIRST/MIDDLE/LAST/ONLY of a message of `n` packets, packet i.
uint8_t segment_opcode(uint8_t first, uint8_t middle, uint8_t last, uint8_t only, uint32_t i, uint32_t n) {
  if (n == 1) return only;
  return i == 0 ? first : i + 1 == n ? last : middle;
}

}  // namespace

TrafficModel::TrafficModel(const GenConfig& c) : c_(c), rng_(c.seed), qps_(c.qps) {
  c_.check();
  for (uint32_t i = 0; i < c_.qps; ++i) {
    qps_[i].psn = c_.start_psn;
    qps_[i].va = 0x10000000ull * (i + 1);
  }
  // Every message has the same size: its packet count (a division) is worked out once.
  packets_per_message_ = std::max<uint32_t>(1, static_cast<uint32_t>((uint64_t{c_.msg_size} + c_.mtu - 1) / c_.mtu));
  psns_per_read_ = packets_per_message_;
  faults_ = c_.gap_rate > 0 || c_.ecn_ce_rate > 0 || c_.cnp_rate > 0 || c_.nak_rate > 0;
  queue_.reserve(kQueueAhead + packets_per_message_ + 8);
  cyclic_ = make_cycle();
}

bool TrafficModel::make_cycle() {
  const OpMix& m = c_.mix;
  const bool write = m.write == m.total(), send = m.send == m.total();
  const size_t round = size_t{c_.qps} * packets_per_message_;
  if (faults_ || !(write || send) || round > kMaxCycle) return false;
  // Messages go round-robin from QP 0, so whole rounds keep each QP's place in the order.
  const size_t rounds = (kQueueAhead + round - 1) / round;
  queue_.clear();
  queue_.reserve(rounds * round);
  for (size_t r = 0; r < rounds; ++r)
    for (uint32_t qi = 0; qi < c_.qps; ++qi)
      for (uint32_t i = 0; i < packets_per_message_; ++i) {
        GenPacket& p = queue_.emplace_back();
        p.qp = qi;
        shape_segment(p, qps_[qi], write, i, packets_per_message_);
      }
  for (Qp& q : qps_) q.sent_request = true;  // as queue_plain_message leaves them (after_read stays false)
  head_ = queue_.size();                      // the first next() writes the first PSNs
  return true;
}

// The cycle again with the next PSNs: each packet takes its QP's next PSN, each message's last packet
// (the one asking for an ACK) completes a message.
void TrafficModel::refill_cycle() {
  for (GenPacket& p : queue_) {
    Qp& q = qps_[p.qp];
    p.psn = q.psn;
    q.psn = (q.psn + 1) & kPsnMask;
    if (p.ack_req) ++q.msn;
  }
  head_ = 0;
}

double TrafficModel::draw() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

// Everything queued has gone out: start over at the front (keeping the vector's memory) with messages
// until a few dozen packets wait, so the refill runs once per many packets. The packets and the random
// draws come in the same order as one message at a time: the sequence of a seed does not change.
void TrafficModel::refill() {
  if (cyclic_) return refill_cycle();
  queue_.clear();
  head_ = 0;
  while (queue_.size() < kQueueAhead) queue_message();
}

// The request packet of QP `qi` just put at the back of the queue (built there, not copied in): dropped
// again (its PSN skipped) or kept, with the CE mark and the CNP or NAK the rates call for. Advances the
// QP's PSN either way.
void TrafficModel::queue_request(Qp& q, uint32_t qi) {
  GenPacket& p = queue_.back();
  const bool is_read = p.opcode == op::RC_READ_REQUEST;
  const uint32_t psns = is_read ? psns_per_read_ : 1;  // a READ request's dma_len is the message size
  p.qp = qi;
  p.psn = q.psn;
  q.psn = (q.psn + psns) & kPsnMask;
  const bool may_drop = q.sent_request && !q.after_read && !is_read;
  if (may_drop && chance(c_.gap_rate)) {
    ++q.pending_skips;
    queue_.pop_back();
    return;
  }
  p.skipped_before = q.pending_skips;
  q.pending_skips = 0;
  q.sent_request = true;
  q.after_read = is_read;
  p.ce = chance(c_.ecn_ce_rate);
  const uint32_t req_psn = p.psn, dma_len = p.dma_len;  // `p` does not outlive the next push_back
  if (is_read) {
    // The responder's READ responses: PSNs of the request onwards, AETH on FIRST/LAST/ONLY.
    const uint32_t n = psns;
    for (uint32_t i = 0; i < n; ++i) {
      GenPacket r;
      r.qp = qi;
      r.reverse = true;
      r.opcode = segment_opcode(op::RC_READ_RESPONSE_FIRST, op::RC_READ_RESPONSE_MIDDLE, op::RC_READ_RESPONSE_LAST,
                                op::RC_READ_RESPONSE_ONLY, i, n);
      r.psn = (req_psn + i) & kPsnMask;
      r.payload_len = i + 1 == n ? dma_len - i * c_.mtu : c_.mtu;
      r.syndrome = wire::Aeth::make(wire::AckType::ack, wire::kAethCreditInvalid);
      r.msn = q.msn + 1;
      queue_.push_back(r);
    }
  }
  if (chance(c_.cnp_rate)) {
    GenPacket cnp;
    cnp.qp = qi;
    cnp.reverse = true;
    cnp.opcode = op::CNP;
    queue_.push_back(cnp);
  }
  if (chance(c_.nak_rate)) {
    GenPacket nak;
    nak.qp = qi;
    nak.reverse = true;
    nak.opcode = op::RC_ACK;
    nak.psn = req_psn;
    nak.syndrome = wire::Aeth::make(wire::AckType::nak, static_cast<uint8_t>(wire::NakCode::psn_sequence_error));
    nak.msn = q.msn;
    queue_.push_back(nak);
  }
}

void TrafficModel::shape_segment(GenPacket& p, const Qp& q, bool write, uint32_t i, uint32_t n) const {
  p.payload_len = i + 1 == n ? c_.msg_size - i * c_.mtu : c_.mtu;
  p.ack_req = i + 1 == n;
  if (write) {
    p.opcode = segment_opcode(op::RC_WRITE_FIRST, op::RC_WRITE_MIDDLE, op::RC_WRITE_LAST, op::RC_WRITE_ONLY, i, n);
    if (i == 0) {
      p.va = q.va;
      p.rkey = kRkey;
      p.dma_len = c_.msg_size;
    }
  } else {
    p.opcode = segment_opcode(op::RC_SEND_FIRST, op::RC_SEND_MIDDLE, op::RC_SEND_LAST, op::RC_SEND_ONLY, i, n);
  }
}

// A WRITE or SEND without faults to inject: what queue_request does for it, without its draws and
// checks (no fault rate, no draw, so no PSN is skipped and no packet is marked or answered).
void TrafficModel::queue_plain_message(Qp& q, uint32_t qi, bool write) {
  const uint32_t n = packets_per_message_;
  for (uint32_t i = 0; i < n; ++i) {
    GenPacket& p = queue_.emplace_back();
    p.qp = qi;
    p.psn = q.psn;
    q.psn = (q.psn + 1) & kPsnMask;
    shape_segment(p, q, write, i, n);
  }
  q.sent_request = true;
  q.after_read = false;
}

void TrafficModel::queue_message() {
  const uint32_t qi = next_qp_;
  if (++next_qp_ == c_.qps) next_qp_ = 0;  // round-robin (no division per message)
  Qp& q = qps_[qi];
  // A mix of one operation needs no draw (the common case: a stream of WRITEs or SENDs).
  const OpMix& m = c_.mix;
  Op kind;
  if (m.write == m.total()) kind = Op::write;
  else if (m.send == m.total()) kind = Op::send;
  else if (m.read == m.total()) kind = Op::read;
  else {
    const uint32_t pick = std::uniform_int_distribution<uint32_t>(0, m.total() - 1)(rng_);
    kind = pick < m.write ? Op::write : pick < m.write + m.send ? Op::send : Op::read;
  }
  const uint32_t size = c_.msg_size;
  if (kind == Op::read) {
    GenPacket& p = queue_.emplace_back();
    p.opcode = op::RC_READ_REQUEST;
    p.va = q.va;
    p.rkey = kRkey;
    p.dma_len = size;
    p.ack_req = true;
    queue_request(q, qi);
  } else if (!faults_) {
    queue_plain_message(q, qi, kind == Op::write);
  } else {
    const uint32_t n = packets_per_message_;
    for (uint32_t i = 0; i < n; ++i) {
      shape_segment(queue_.emplace_back(), q, kind == Op::write, i, n);
      queue_request(q, qi);
    }
  }
  ++q.msn;
}

}  // namespace rfab::gen
