// Value types of the RC verbs API: status codes, work requests, work completions, QP attributes.
// Names and numeric values follow libibverbs (ibv_wc_status, ibv_wr_opcode, ibv_qp_attr_mask, ...) so that
// code written against ibverbs ports by renaming: IBV_WC_REM_ACCESS_ERR -> rc::WcStatus::rem_access_err.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "rfab/base/time.hpp"

namespace rfab::rc {

// ---- errors returned by the verbs calls (setup and post_*; never thrown on the hot path) ----
enum class Errc : uint8_t {
  ok = 0,
  invalid_argument,  // a field of the request is out of range (what names it)
  invalid_state,     // the QP's state forbids the call (e.g. post_send in RESET)
  queue_full,        // send or receive queue has max_*_wr outstanding requests
  too_many_sge,      // sg_list longer than max_*_sge
  bad_lkey,          // an SGE's lkey is unknown, lacks LOCAL_WRITE where needed, or is out of bounds
  missing_attribute, // modify(): a required attribute is absent from the mask
  bad_transition,    // modify(): the requested state change is not allowed by the IBTA state machine
  in_use,            // dereg of an MR / destroy of a CQ that is still referenced
};
const char* to_string(Errc e);

// A status with a static, human-readable explanation ("modify INIT->RTR: path_mtu missing").
struct Status {
  Errc code = Errc::ok;
  const char* what = "";
  bool ok() const { return code == Errc::ok; }
  explicit operator bool() const { return ok(); }
};

// ---- memory ----
enum Access : uint32_t {  // ibv_access_flags
  kLocalWrite = 1u << 0,
  kRemoteWrite = 1u << 1,
  kRemoteRead = 1u << 2,
  kRemoteAtomic = 1u << 3,
};

struct Sge {  // ibv_sge
  uint64_t addr = 0;  // virtual address inside the MR named by lkey
  uint32_t length = 0;
  uint32_t lkey = 0;
};

// ---- work requests ----
enum class WrOpcode : uint8_t {  // ibv_wr_opcode values
  rdma_write = 0,
  rdma_write_with_imm = 1,
  send = 2,
  send_with_imm = 3,
  rdma_read = 4,
  atomic_cmp_and_swp = 5,
  atomic_fetch_and_add = 6,
};
const char* to_string(WrOpcode op);

enum SendFlags : uint32_t {  // ibv_send_flags
  kFence = 1u << 0,      // wait for outstanding READ/atomic responses before this WR starts
  kSignaled = 1u << 1,   // generate a completion on success (errors always complete)
  kSolicited = 1u << 2,  // set BTH.SE on the last packet
};

struct SendWr {  // ibv_send_wr, one request (post_send takes a span for lists)
  uint64_t wr_id = 0;
  WrOpcode opcode = WrOpcode::send;
  uint32_t send_flags = kSignaled;
  std::span<const Sge> sg_list;  // copied at post time; need not outlive the call
  uint32_t imm = 0;              // host value; goes on the wire big-endian (ImmDt)
  struct {
    uint64_t remote_addr = 0;
    uint32_t rkey = 0;
  } rdma;
  struct {
    uint64_t remote_addr = 0;  // must be 8-byte aligned
    uint64_t compare_add = 0;  // compare (CAS) or add (FAA)
    uint64_t swap = 0;
    uint32_t rkey = 0;
  } atomic;
};

struct RecvWr {  // ibv_recv_wr
  uint64_t wr_id = 0;
  std::span<const Sge> sg_list;  // copied at post time
};

// ---- completions ----
enum class WcStatus : uint8_t {  // ibv_wc_status values
  success = 0,
  loc_len_err = 1,
  loc_qp_op_err = 2,
  loc_prot_err = 4,
  wr_flush_err = 5,
  bad_resp_err = 7,
  loc_access_err = 8,
  rem_inv_req_err = 9,
  rem_access_err = 10,
  rem_op_err = 11,
  retry_exc_err = 12,
  rnr_retry_exc_err = 13,
  rem_inv_rd_req_err = 15,
  rem_abort_err = 16,
  fatal_err = 19,
  resp_timeout_err = 20,
  general_err = 21,
};
const char* to_string(WcStatus s);

enum class WcOpcode : uint8_t {  // ibv_wc_opcode values
  send = 0,
  rdma_write = 1,
  rdma_read = 2,
  comp_swap = 3,
  fetch_add = 4,
  recv = 128,
  recv_rdma_with_imm = 129,
};

enum WcFlags : uint32_t { kWcWithImm = 1u << 1 };  // ibv_wc_flags

struct WorkCompletion {  // ibv_wc
  uint64_t wr_id = 0;
  WcStatus status = WcStatus::success;
  WcOpcode opcode = WcOpcode::send;
  uint32_t byte_len = 0;  // receive side: bytes placed; READ/atomic: bytes returned
  uint32_t imm = 0;       // host value of ImmDt, valid when wc_flags & kWcWithImm
  uint32_t qp_num = 0;    // the local QP
  uint32_t src_qp = 0;    // the remote QP (dest_qp_num of the local QP)
  uint32_t wc_flags = 0;
};

// ---- QP attributes and state ----
enum class QpState : uint8_t { reset = 0, init = 1, rtr = 2, rts = 3, sqd = 4, sqe = 5, err = 6 };  // ibv_qp_state
const char* to_string(QpState s);

enum class Mtu : uint8_t { mtu256 = 1, mtu512 = 2, mtu1024 = 3, mtu2048 = 4, mtu4096 = 5 };  // ibv_mtu
inline constexpr uint32_t mtu_bytes(Mtu m) { return 128u << static_cast<uint8_t>(m); }
// 256..4096 (a power of two) -> Mtu; false for anything else.
bool mtu_from_bytes(uint32_t bytes, Mtu& out);

// Entropy (UDP source port) policy for the packets this QP sends; see docs/multipath.md.
struct EntropyPolicy {
  enum class Kind : uint8_t {
    fixed,    // one port for the QP's lifetime, exactly as Linux rxe (rxe_src_port)
    flowlet,  // a new port (among `paths`) when the send queue has been idle for `flowlet_gap`
    spray,    // round-robin over `paths` ports, per packet; the receiver tolerates reordering
    adaptive, // spray, steered by path feedback: a port whose packets draw CNPs, NAKs or ACK timeouts, or
              // whose round trip is far above the best port's, is set aside for `avoid_time`, then
              // probed with one packet and taken back only if that packet comes back in time
  };
  Kind kind = Kind::fixed;
  uint16_t paths = 1;      // number of distinct ports used by flowlet / spray / adaptive (1..256)
  Nanos flowlet_gap = 0;   // idle gap that starts a new flowlet
  Nanos avoid_time = 0;    // adaptive: how long a port is set aside before a probe (0 = the larger of
                           // 8 best-port round trips and 2 of its own, within 50 us..10 ms)
};

// One entropy (UDP source port) of a QP and what was seen on it. The requester side counts what it sent
// and the feedback it attributed to the port; the responder side counts what arrived with that port.
struct PathStats {
  uint16_t src_port = 0;
  uint64_t tx_packets = 0;       // request packets sent with this port (resends included)
  uint64_t probes = 0;           // of those, single packets sent to learn whether a set-aside port recovered
  uint64_t rx_packets = 0;       // request packets that arrived with this port (responder)
  uint64_t rx_ecn_ce = 0;        // of those, ECN-CE marked
  uint64_t cnps = 0;             // CNPs that named this port (the peer echoes the marked packet's port)
  uint64_t naks = 0;             // sequence NAKs and ACK timeouts for a PSN sent with this port
  uint64_t slow_samples = 0;     // round trips (or failed probes) far above the best port's
  uint64_t set_aside = 0;        // times the adaptive policy set the port aside
  Nanos srtt = 0;                // smoothed round trip of its packets (0 = no sample since last set aside)
  bool avoided = false;          // set aside or on probation at the time of the query
};

enum QpAttrMask : uint32_t {  // ibv_qp_attr_mask values
  kQpState = 1u << 0,
  kQpAccessFlags = 1u << 3,
  kQpPkeyIndex = 1u << 4,
  kQpPort = 1u << 5,
  kQpAv = 1u << 7,
  kQpPathMtu = 1u << 8,
  kQpTimeout = 1u << 9,
  kQpRetryCnt = 1u << 10,
  kQpRnrRetry = 1u << 11,
  kQpRqPsn = 1u << 12,
  kQpMaxQpRdAtomic = 1u << 13,
  kQpMinRnrTimer = 1u << 15,
  kQpSqPsn = 1u << 16,
  kQpMaxDestRdAtomic = 1u << 17,
  kQpDestQpn = 1u << 20,
  kQpEntropy = 1u << 28,  // rfab extension: EntropyPolicy
  kQpLossRecovery = 1u << 29,  // rfab extension: LossRecovery
};

// How a lost request packet is recovered. Both ends of a connection must agree (the side channel
// negotiates it); anything that is not an rfab engine speaks go-back-N.
enum class LossRecovery : uint8_t {
  go_back_n,  // IBTA: a sequence NAK or an ACK timeout resends everything from the lost PSN (rxe, RNICs)
  selective,  // the responder holds packets past a hole and NAKs the hole once tuning.loss_after packets
              // have overtaken it; the requester resends that one packet and goes on with new data;
              // timeouts resend the oldest unacknowledged packet, with exponential back-off
};

struct QpAttr {  // the ibv_qp_attr fields an RC QP uses
  QpState qp_state = QpState::reset;
  uint32_t qp_access_flags = 0;  // kRemoteWrite | kRemoteRead | kRemoteAtomic: what the peer may do
  uint16_t pkey_index = 0;
  uint8_t port_num = 1;
  Mtu path_mtu = Mtu::mtu1024;
  uint32_t rq_psn = 0;            // first PSN expected from the peer (24 bits)
  uint32_t sq_psn = 0;            // first PSN this QP sends (24 bits)
  uint32_t dest_qp_num = 0;       // the peer's QPN (24 bits)
  uint8_t timeout = 14;           // local ACK timeout 4.096 us * 2^timeout (0..31; 0 = wait forever)
  uint8_t retry_cnt = 7;          // 0..7
  uint8_t rnr_retry = 7;          // 0..7, 7 = infinite
  uint8_t min_rnr_timer = 12;     // IBTA RNR timer code 0..31 (12 = 0.64 ms), sent in our RNR NAKs
  uint8_t max_rd_atomic = 16;     // READ/atomic requests this QP may have outstanding (1..255)
  uint8_t max_dest_rd_atomic = 16;// READ/atomic requests the responder holds resources for (1..255)
  EntropyPolicy entropy;
  LossRecovery loss_recovery = LossRecovery::go_back_n;
};

// IBTA RNR timer code (0..31) to nanoseconds (table 45; code 0 means 655.36 ms).
Nanos rnr_timer_ns(uint8_t code);
// Local ACK timeout: 4.096 us * 2^timeout; kNever for 0.
Nanos ack_timeout_ns(uint8_t timeout);

// ---- driver side ----
struct RxMeta {
  bool ecn_ce = false;    // the IP header carried ECN Congestion Experienced
  uint16_t src_port = 0;  // UDP source port the packet arrived with (informational)
};

// What handle_packet did with a packet (for driver counters; none of these are errors of the driver).
enum class RxResult : uint8_t {
  accepted,        // processed (may have produced packets to send / completions)
  duplicate,       // an already-seen request (re-ACKed / replayed) or a stale response
  malformed,       // failed to decode or is not an RC opcode for this QP
  wrong_qp,        // BTH dest QP is not this QP
  bad_state,       // the QP's state does not accept this packet (RESET/INIT, or ERR)
  out_of_window,   // PSN outside the accepted window: dropped (a sequence NAK may be queued)
  nak_sent,        // invalid/forbidden request answered with a NAK
  rnr,             // no receive WQE: RNR NAK queued
  cnp,             // a CNP, handed to the congestion controller
  corrupt,         // failed the driver's integrity check (RxCheck): dropped, the QP's state unchanged
};
const char* to_string(RxResult r);

// One packet for the driver to send. Set `buf` before poll_transmit: it receives BTH .. pad + a zeroed
// 4-byte ICRC slot (encoded by wire::encode_roce). The driver fills in the ICRC over its IP/UDP headers.
struct TxPacket {
  std::span<uint8_t> buf;   // in: caller's buffer, at least max_packet_bytes(path MTU) (<= 4096 + 64)
  size_t len = 0;           // out: bytes written, ICRC slot included
  uint32_t dest_qp = 0;     // out: BTH destination QP (the peer's QPN)
  uint16_t src_port = 0;    // out: UDP source port (ECMP entropy) to send with
  uint8_t opcode = 0;       // out: BTH opcode
  uint32_t psn = 0;         // out: BTH PSN
  bool is_cnp = false;      // out: a CNP (send it with high priority, not ECN-capable)
  bool is_data = false;     // out: counts against the congestion controller's rate (request/READ data)
  bool retransmit = false;  // out: a go-back-N resend
  // Gather transmit (optional, for drivers that send with an iovec): when `gather` is set by the caller, a
  // payload that lies in registered memory and needs no pad is not copied into `buf`. `buf` then holds
  // the headers (BTH ..) in its first `header_len` bytes followed by the 4-byte ICRC slot, and `payload`
  // points at the payload bytes (valid until the next post/modify/dereg on this QP's memory, i.e. send it
  // before returning control to the application). The datagram is buf[0, header_len) + payload +
  // buf[header_len, header_len + 4); `len` is its total length. When `payload` comes back empty the packet
  // is whole in `buf` as without gather.
  bool gather = false;                // in: the caller accepts a gathered packet
  size_t header_len = 0;              // out (gathered packets): header bytes at the start of buf
  std::span<const uint8_t> payload;   // out (gathered packets): the payload, not copied into buf
};
// Largest packet poll_transmit can produce: BTH + RETH + ImmDt + MTU payload + ICRC, rounded up.
inline constexpr size_t kMaxPacketBytes = 4096 + 64;

// Per-QP counters (monotonic; for telemetry).
struct QpStats {
  uint64_t tx_packets = 0, tx_bytes = 0, rx_packets = 0, rx_bytes = 0;
  uint64_t retransmits = 0;         // packets resent (go-back-N or selective)
  uint64_t timeouts = 0;            // ACK timer expiries
  uint64_t seq_naks_sent = 0, seq_naks_received = 0;
  uint64_t rnr_naks_sent = 0, rnr_naks_received = 0;
  uint64_t access_naks_sent = 0;    // remote access / invalid request / operational NAKs
  uint64_t duplicates = 0;          // duplicate requests re-ACKed or replayed
  uint64_t out_of_order = 0;        // request packets held or placed ahead of the expected PSN (spray)
  uint64_t dropped = 0;             // malformed, wrong state, out of window
  uint64_t cnps_sent = 0, cnps_received = 0, ecn_ce_received = 0;
  uint64_t cnps_steered = 0;        // CNPs answered by moving off the marked port, not by a rate cut (adaptive)
  uint64_t acks_sent = 0;
  uint64_t selective_resends = 0;  // single packets resent for a selective NAK or a timeout
  uint64_t spurious_naks = 0;      // selective NAKs whose original arrived after all (reordering, not loss)

  QpStats& operator+=(const QpStats& o);  // for sums over QPs
};

// Engine tuning that is not an IBTA attribute (set at creation).
struct QpTuning {
  Nanos cnp_interval = 50'000;     // at most one CNP per this interval (DCQCN's 50 us default)
  uint32_t ack_every = 16;         // responder: ACK at least every N request packets even without AckReq
  uint32_t ackreq_every = 32;      // requester: set AckReq at least every N packets (and on every last)
  uint32_t max_outstanding = 4096; // requester: packets in flight (unACKed) limit, <= 2^23
  uint16_t reorder_window = 64;    // responder: PSNs ahead of the expected one held when spraying or in
                                   // selective loss recovery (<= 1024); also bounds the requester's window
  uint16_t loss_after = 0;         // selective: packets that may overtake a hole before it is NAKed as lost
                                   // however young it is (0 = no such rule: only reorder_time decides)
  Nanos reorder_time = 0;          // selective: how long a hole may stay open before it is NAKed as lost, to
                                   // start with; then adapted to the reordering seen (0 = none when
                                   // loss_after is set, else 1 ms when spraying, else NAK at the first
                                   // packet that overtakes a hole)
  double line_bps = 100e9;         // rate of the default controller (cc::LineRate) when none is given
};

}  // namespace rfab::rc
