// Internal state of a QueuePair, shared by the requester, responder and completer (one .cpp each, as in
// Linux rxe). Everything here is allocated at creation or on a modify(); the packet paths only index it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "path_chooser.hpp"
#include "psn.hpp"
#include "rfab/congestion/controller.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc {

struct SendWqe {
  uint64_t wr_id = 0;
  WrOpcode opcode = WrOpcode::send;
  uint32_t flags = 0;
  uint32_t imm = 0;
  uint64_t remote_addr = 0;
  uint32_t rkey = 0;
  uint64_t compare_add = 0, swap = 0;
  uint32_t num_sge = 0;
  uint32_t length = 0;  // total bytes of the SGE list
  // Requester progress.
  bool started = false;     // PSNs assigned (first packet sent at least once)
  uint32_t first_psn = 0;
  uint32_t npkts = 0;       // PSNs the WQE occupies (READ: one per response packet)
  uint32_t resp_pkts = 0;   // READ: response packets received in order
  WcStatus fail = WcStatus::wr_flush_err;  // status the WQE gets when the QP errors with it at the head
  uint32_t last_psn() const { return psn::add(first_psn, npkts - 1); }
  bool is_rd_atomic() const {
    return opcode == WrOpcode::rdma_read || opcode == WrOpcode::atomic_cmp_and_swp ||
           opcode == WrOpcode::atomic_fetch_and_add;
  }
};

struct RecvWqe {
  uint64_t wr_id = 0;
  uint32_t num_sge = 0;
  uint32_t length = 0;
};

// Responder's READ / atomic resource (IBTA: max_dest_rd_atomic of them). READ responses are generated
// from it packet by packet; an atomic keeps its original value so a duplicate request is replayed.
struct RdResource {
  enum class Kind : uint8_t { free, read, atomic } kind = Kind::free;
  uint32_t first_psn = 0;  // PSN of the request
  uint32_t npkts = 0;      // PSNs consumed
  // READ transmission cursor.
  uint32_t seq = 0;        // ring counter of this slot (rd_tx / rd_tail space)
  uint32_t rkey = 0;
  uint64_t va = 0;         // next byte to send
  uint32_t resid = 0;      // bytes left to send
  uint32_t next_psn = 0;   // PSN of the next response packet
  bool first_sent = false; // a FIRST/ONLY response has been sent in this (re)transmission
  bool pending = false;    // packets (or the atomic ACK) still to send
  uint64_t orig = 0;       // atomic: value before the operation
  uint32_t msn = 0;        // MSN to report in the response's AETH
};

// One PSN slot of the responder's reorder window (spray mode).
struct ReorderSlot {
  bool used = false;
  bool placed = false;     // a WRITE_ONLY whose data is already in memory: only the in-order step is left
  bool ack_req = false;
  uint32_t psn = 0;
  uint32_t len = 0;        // bytes of the stored packet (when !placed)
  std::vector<uint8_t> bytes;
};

struct QueuePair::Impl {
  // ---- configuration ----
  ProtectionDomain* pd;
  CompletionQueue* send_cq;
  CompletionQueue* recv_cq;
  QpCap cap;
  QpTuning tuning;
  uint32_t qpn;
  cc::LineRate default_cc;
  cc::Controller* cc;
  QpState state = QpState::reset;
  QpAttr attr;        // last applied attributes
  uint32_t mtu = 1024;
  QpStats stats;

  // ---- send queue (requester + completer) ----
  std::vector<SendWqe> sq;
  std::vector<Sge> sq_sge;  // max_send_sge per slot
  uint32_t sq_head = 0;     // oldest incomplete WQE (monotonic counters; slot = counter % size)
  uint32_t sq_send = 0;     // WQE the requester sends next
  uint32_t sq_tail = 0;     // next free slot
  uint32_t send_offset = 0; // bytes of sq_send already segmented
  uint32_t next_psn = 0;    // PSN of the next packet the requester sends
  uint32_t max_psn = 0;     // one past the highest PSN ever sent (retransmit detection)
  uint32_t una_psn = 0;     // oldest unacknowledged PSN
  uint32_t rd_inflight = 0; // READ/atomic WQEs sent but not complete
  uint32_t pkts_since_ackreq = 0;
  uint8_t retry_left = 7, rnr_left = 7;
  bool gap_retry = false;  // a go-back-N for a response gap is under way: later gaps of it are not new losses
  bool resend_pending = false;  // selective: resend the packet at resend_psn next
  uint32_t resend_psn = 0;
  uint8_t timeout_backoff = 0;  // selective: ACK timeouts in a row without progress (the timeout doubles)
  bool timeout_recovery = false;  // selective: since a timeout, every partial ACK resends the next unacked packet
  // selective: the last single resend, its round trip (resend to the ACK that covers it) and the time by
  // which that ACK is overdue (the resend was lost: resend again, long before the ACK timeout)
  uint32_t resent_psn = 0;
  Nanos resent_at = kNever;
  Nanos resend_rtt = 0;
  Nanos resend_deadline = kNever;
  uint8_t resend_backoff = 0;
  Nanos ack_deadline = kNever;
  Nanos rnr_deadline = kNever;  // requester paused by an RNR NAK until then
  Nanos next_send = 0;          // pacing
  Nanos last_req_tx = 0;
  bool any_req_tx = false;
  uint32_t flowlet_idx = 0;
  PathChooser paths;  // the QP's entropies: choice (spray, adaptive) and per-port counters
  std::vector<uint8_t> scratch;  // gather buffer for payloads spanning several SGEs

  // ---- receive queue and responder ----
  std::vector<RecvWqe> rq;
  std::vector<Sge> rq_sge;
  uint32_t rq_head = 0, rq_tail = 0;
  uint32_t epsn = 0;   // next expected request PSN
  uint32_t msn = 0;    // messages completed (24 bits)
  enum class InMsg : uint8_t { none, send, write } in_msg = InMsg::none;
  uint32_t in_offset = 0;              // send: bytes placed into the recv WQE
  uint32_t in_rkey = 0;                // write: target MR
  uint64_t in_va = 0;
  uint32_t in_resid = 0;
  uint32_t in_total = 0;
  bool nak_outstanding = false;  // a NAK was sent; no further NAK until epsn arrives (IBTA 9.9.2)
  // ---- holes in the reorder window (reorder.cpp; selective recovery in selective.cpp) ----
  uint32_t held = 0;             // packets held ahead of epsn: > 0 means the packet at epsn is missing
  Nanos hole_since = kNever;     // when the current hole was first overtaken
  Nanos reorder_time = 0;        // selective: how long a hole may stay open before it is taken as lost
  Nanos nak_deadline = kNever;   // selective: when the open hole is taken as lost (or its NAK repeated)
  uint32_t held_since_nak = 0;   // selective: packets held since the last NAK of the open hole
  Nanos nak_sent_at = 0;         // selective: when the open hole was last NAKed
  Nanos nak_rtt = 0;             // selective: smoothed time from a NAK to its hole's resend (0 = none yet)
  bool nak_fill_valid = false;   // selective: the last NAKed hole was filled; a duplicate of it now means
  uint32_t nak_fill_psn = 0;     // the NAK was spurious (the original was only late)
  Nanos nak_fill_hole_since = 0;
  bool ack_pending = false;
  uint32_t pkts_since_ack = 0;
  struct { bool pending = false; uint8_t syndrome = 0; uint32_t psn = 0; } nak;
  bool cnp_pending = false;
  bool cnp_ever = false;
  uint16_t cnp_port = 0;  // UDP source port of the pending CNP
  uint16_t arriving_port = 0;  // UDP source port of the request packet being processed
  uint16_t ack_port = 0;       // UDP source port of the packet that last advanced the expected PSN
  uint16_t response_port = 0;      // UDP source port of the ACK being processed (0 for other responses)
  Nanos last_cnp = 0;
  std::vector<RdResource> rd;  // ring of max_dest_rd_atomic
  uint32_t rd_tail = 0;        // next slot to allocate (monotonic)
  uint32_t rd_tx = 0;          // oldest slot that may still have responses to send
  std::vector<ReorderSlot> reorder;  // empty unless holds_out_of_order()

  explicit Impl(const QpInit& init);

  // ---- helpers (qp.cpp) ----
  SendWqe& swqe(uint32_t i) { return sq[i % sq.size()]; }
  Sge* swqe_sge(uint32_t i) { return &sq_sge[(i % sq.size()) * cap.max_send_sge]; }
  RecvWqe& rwqe(uint32_t i) { return rq[i % rq.size()]; }
  Sge* rwqe_sge(uint32_t i) { return &rq_sge[(i % rq.size()) * cap.max_recv_sge]; }
  bool spraying() const {
    return attr.entropy.kind == EntropyPolicy::Kind::spray || attr.entropy.kind == EntropyPolicy::Kind::adaptive;
  }
  bool selective() const { return attr.loss_recovery == LossRecovery::selective; }
  // The responder holds packets that arrive ahead of the expected PSN (and the requester keeps its window
  // within what the peer holds).
  bool holds_out_of_order() const { return spraying() || selective(); }
  // Source port for an ACK or CNP about a request that arrived with `request_port`. Between rfab engines
  // (they hold reordered packets) it echoes that port, so a sender spreading over ports learns which one
  // the feedback is about; otherwise the QP's rxe port, as rxe sends it.
  uint16_t feedback_port(uint16_t request_port) const {
    return holds_out_of_order() && request_port != 0 ? request_port : rxe_src_port(qpn, attr.dest_qp_num);
  }
  // Packets the requester may have unacknowledged.
  uint32_t requester_window() const {
    return holds_out_of_order() ? std::min<uint32_t>(tuning.max_outstanding, tuning.reorder_window) : tuning.max_outstanding;
  }
  // Packets that may overtake a hole before it is NAKed whatever its age (no such rule when 0).
  uint32_t loss_after() const { return tuning.loss_after != 0 ? tuning.loss_after : ~uint32_t{0}; }
  // The local ACK timeout, doubled for each timeout in a row (selective recovery backs off).
  Nanos ack_timeout() const {
    const Nanos t = ack_timeout_ns(attr.timeout);
    return t == kNever ? kNever : t << timeout_backoff;
  }
  void complete_send(SendWqe& w, WcStatus st);  // pushes a WC when signaled or failed
  void complete_recv(uint32_t idx, WcStatus st, WcOpcode op, uint32_t byte_len, bool has_imm, uint32_t imm);
  void to_error();                               // QP -> ERR, flush
  void flush();
  void reset_queues();
  Status modify(const QpAttr& a, uint32_t mask);
  // Copies `len` bytes between SGE lists and memory at byte `offset` of the list. False on a missing MR
  // or a list too short (nothing is copied then).
  bool sge_gather(const Sge* sges, uint32_t n, uint32_t offset, uint8_t* out, uint32_t len) const;
  bool sge_scatter(const Sge* sges, uint32_t n, uint32_t offset, const uint8_t* in, uint32_t len) const;
  // Contiguous view of [offset, offset+len) of the list when it lies in one SGE (no copy needed).
  const uint8_t* sge_contiguous(const Sge* sges, uint32_t n, uint32_t offset, uint32_t len) const;

  // ---- requester (requester.cpp) ----
  bool requester_transmit(Nanos now, TxPacket& pkt);
  bool segment_next(Nanos now, TxPacket& pkt);  // the packet at the send cursor (requester_transmit's body)
  bool resend_one(Nanos now, TxPacket& pkt);    // selective: the packet at resend_psn, cursor kept
  void resend(uint32_t psn);                     // selective: schedule resend_one for this PSN
  void on_resend_overdue(Nanos now);             // selective: resend_deadline passed
  bool requester_ready(Nanos now) const;
  void rewind(uint32_t psn);
  bool consume_retry(Nanos now, bool rnr);  // false: budget spent, QP moved to ERR
  uint16_t request_port(Nanos now, uint32_t psn, bool resend);
  void on_ack_timeout(Nanos now);

  // ---- completer (completer.cpp) ----
  RxResult on_response(Nanos now, const wire::RocePacket& p);
  // Completes SEND/WRITE WQEs the responder has passed (every PSN before `bound`). Returns the new oldest
  // unacknowledged PSN; *rd_lost when an unfinished READ/atomic was passed (its responses were lost).
  uint32_t complete_acked(Nanos now, uint32_t bound, bool* rd_lost);
  void retire_head();  // ++sq_head, keeping rd_inflight right
  void retry_from(Nanos now, uint32_t psn);  // go-back-N (consumes the retry budget)
  void gap(Nanos now, uint32_t from);        // retry_from once per hole in the responses
  void responder_working(Nanos now);         // a READ/atomic response arrived: push the ACK timer back
  void fail_head(WcStatus st);
  void progress(Nanos now, uint32_t new_una);

  // ---- dispatch of a received packet (qp.cpp); `decoded` is null when it did not decode ----
  // `placed`: the payload is already in the memory continuing_write_target named (handle_packet with an
  // RxCheck copied it there while checking it).
  RxResult receive(Nanos now, std::span<const uint8_t> bytes, const wire::RocePacket* decoded, const RxMeta& meta,
                   bool placed);
  // Where receive() would copy this packet's payload when that place is known without the packet's own
  // headers: a WRITE MIDDLE/LAST at the expected PSN that every check passes, placed at the WRITE's
  // current address (from its FIRST packet). nullptr for anything else (placement.cpp).
  uint8_t* continuing_write_target(const wire::RocePacket& p) const;

  // ---- responder (responder.cpp) ----
  RxResult on_request(Nanos now, const wire::RocePacket& p, std::span<const uint8_t> bytes, bool placed = false);
  // An in-order request. `placed`: its payload is already at continuing_write_target (no copy).
  RxResult execute(Nanos now, const wire::RocePacket& p, bool placed = false);
  RxResult on_duplicate(Nanos now, const wire::RocePacket& p);
  RxResult rnr(uint32_t psn);
  bool write_target_ok(const wire::RocePacket& p) const;  // WRITE_ONLY checks for early placement
  bool responder_transmit(Nanos now, TxPacket& pkt);
  void queue_nak(wire::AckType t, uint8_t value, uint32_t psn);
  void class_c_error(wire::NakCode code, uint32_t psn);
  // `stable`: the payload lies in registered memory (not the scratch buffer), so a gathering driver may
  // send it in place.
  bool emit(TxPacket& pkt, const wire::RoceFields& f, std::span<const uint8_t> payload, uint16_t port,
            bool stable = false);
  // `port`: UDP source port, 0 = the QP's rxe port (NAKs, and ACKs toward a peer that is not rfab's).
  bool emit_ack(TxPacket& pkt, uint8_t syndrome, uint32_t psn, uint16_t port = 0);

  // ---- reorder window (reorder.cpp) ----
  void reorder_alloc();
  RxResult reorder_hold(Nanos now, const wire::RocePacket& p, std::span<const uint8_t> bytes);
  void reorder_drain(Nanos now);
  void reorder_clear(uint32_t from_psn, uint32_t n);
  void hole_opened(Nanos now);
  void hole_filled(Nanos now, uint32_t psn);
  void on_overtaken(Nanos now, uint32_t distance);  // selective: a packet held `distance` past the hole
  void nak_hole(Nanos now);
  void on_nak_deadline(Nanos now);
  void check_spurious_nak(Nanos now, uint32_t psn);
};

}  // namespace rfab::rc
