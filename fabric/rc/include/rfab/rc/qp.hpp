// An RC queue pair, sans-IO. The application side is libibverbs-shaped (modify / post_send / post_recv;
// completions land in the CQs given at creation). The driver side moves packets and time:
//
//   driver receives a UDP payload (BTH..ICRC, ICRC already checked)  -> qp.handle_packet(now, bytes, meta)
//                              (or not yet checked: the QP runs the check) -> qp.handle_packet(now, bytes, meta, check)
//   driver may send                                                   -> while (qp.poll_transmit(now, pkt)) send
//   driver's timer                                                    -> at qp.next_deadline(): handle_timeout(now)
//
// Pacing is the driver's: it asks next_send_time() / rate_bps() before taking data packets (TxPacket::is_data).
// Internally the QP follows Linux rxe: requester (segmentation, PSNs, retransmission), responder (checks,
// placement, ACK/NAK, READ responses, atomics), completer (ACK processing, completions). Single-threaded:
// one thread (the driver's) calls everything for a given QP, its PD and its CQs. No clock, socket, thread or
// allocation on the hot path (queues and buffers are allocated at creation / modify to INIT).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "rfab/congestion/controller.hpp"
#include "rfab/rc/cq.hpp"
#include "rfab/rc/memory.hpp"
#include "rfab/rc/rx_check.hpp"
#include "rfab/rc/types.hpp"

namespace rfab::rc {

struct QpCap {  // ibv_qp_cap
  uint32_t max_send_wr = 256;
  uint32_t max_recv_wr = 256;
  uint32_t max_send_sge = 4;
  uint32_t max_recv_sge = 4;
};

struct QpInit {  // ibv_qp_init_attr (RC only)
  ProtectionDomain* pd = nullptr;
  CompletionQueue* send_cq = nullptr;
  CompletionQueue* recv_cq = nullptr;
  QpCap cap;
  uint32_t qp_num = 0;             // 1..2^24-1, chosen by the owner (a driver demultiplexes on it)
  cc::Controller* cc = nullptr;    // congestion controller (not owned); nullptr = cc::LineRate(tuning.line_bps)
  QpTuning tuning;
};

class QueuePair {
 public:
  // Throws std::invalid_argument naming the bad field (missing pd/cq, qp_num out of range, cap limits).
  explicit QueuePair(const QpInit& init);
  ~QueuePair();
  QueuePair(const QueuePair&) = delete;
  QueuePair& operator=(const QueuePair&) = delete;

  uint32_t qp_num() const;
  QpState state() const;
  // ibv_query_qp: the current attributes (sq_psn / rq_psn report the next PSN to send / expected).
  QpAttr query() const;

  // ibv_modify_qp. Applies the attributes named by `mask`; with kQpState also moves through the IBTA state
  // machine (RESET->INIT->RTR->RTS, RTS<->SQD, SQE->RTS, any->ERR, any->RESET), checking that each
  // transition carries the attributes libibverbs requires for RC. Moving to ERR flushes every outstanding
  // work request with wr_flush_err; moving to RESET discards them without completions.
  Status modify(const QpAttr& attr, uint32_t mask);

  // ibv_post_send / ibv_post_recv. The WR (and its SGE list) is copied; SGEs are checked against the PD now
  // (lkey, bounds, LOCAL_WRITE for READ/atomic targets) so a bad SGE is an immediate error, not a packet.
  Status post_send(const SendWr& wr);
  Status post_recv(const RecvWr& wr);
  // Lists: posts in order and stops at the first failure; *bad (if given) receives its index.
  Status post_send(std::span<const SendWr> wrs, size_t* bad = nullptr);
  Status post_recv(std::span<const RecvWr> wrs, size_t* bad = nullptr);

  // ---- driver side ----
  // One received UDP payload (BTH .. ICRC) addressed to this QP.
  RxResult handle_packet(Nanos now, std::span<const uint8_t> udp_payload, const RxMeta& meta);
  // The same for a packet whose integrity the driver has not checked yet. `check` runs before the packet
  // changes anything; when it fails the packet is dropped (RxResult::corrupt) and the QP is as before, the
  // same as if the driver had dropped it. A packet that continues a WRITE in PSN order is checked while its
  // payload is copied into the target memory (RxCheck::copy_verify). If that packet turns out corrupt,
  // those target bytes hold its bad payload, but they lie within the WRITE's range not yet written (the
  // range known from earlier, checked packets, never from the bad one), and the expected PSN does not
  // advance: nothing can complete before the resend of that PSN overwrites them.
  RxResult handle_packet(Nanos now, std::span<const uint8_t> udp_payload, const RxMeta& meta, RxCheck& check);
  // Produces the next packet to send, if any: control packets (CNP, ACK/NAK, READ responses, atomic ACKs)
  // first, then requests. pkt.buf must be set by the caller (>= kMaxPacketBytes). Returns false when idle.
  bool poll_transmit(Nanos now, TxPacket& pkt);
  // True when poll_transmit would return a packet.
  bool has_transmit() const;
  // Absolute time of the next timer (ACK timeout, RNR back-off, CNP / congestion timers), or kNever.
  Nanos next_deadline() const;
  // Run expired timers (safe to call early or late).
  void handle_timeout(Nanos now);

  // Pacing: the congestion controller's current rate, and the earliest time the next data packet may leave
  // under that rate (advanced by every data packet poll_transmit hands out). 0 = now.
  double rate_bps(Nanos now) const;
  Nanos next_send_time() const;

  const QpStats& stats() const;
  // Per entropy (UDP source port): what was sent and received on it and the feedback it drew. One entry
  // for a fixed-port QP, `paths` for the others.
  std::vector<PathStats> path_stats() const;

  struct Impl;  // requester / responder / completer state (fabric/rc/src)

 private:
  std::unique_ptr<Impl> impl_;
};

// The UDP source port Linux rxe uses for a QP (rdma_get_udp_sport with no GRH flow label): the flow label
// rdma_calc_flow_label(local, remote) folded to 14 bits, | 0xC000. Checked against an rxe capture.
uint16_t rxe_src_port(uint32_t local_qpn, uint32_t remote_qpn);
// Port number `index` (0..paths-1) of a QP's entropy set; index 0 is rxe_src_port, the others step through
// the 14-bit port space with an odd stride (so up to 16384 indices give distinct ports).
uint16_t entropy_port(uint32_t local_qpn, uint32_t remote_qpn, uint32_t index);

}  // namespace rfab::rc
