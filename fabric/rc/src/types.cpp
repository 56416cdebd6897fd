#include "rfab/rc/types.hpp"

namespace rfab::rc {

const char* to_string(Errc e) {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid argument";
    case Errc::invalid_state: return "invalid QP state";
    case Errc::queue_full: return "queue full";
    case Errc::too_many_sge: return "too many SGEs";
    case Errc::bad_lkey: return "bad lkey";
    case Errc::missing_attribute: return "missing attribute";
    case Errc::bad_transition: return "bad state transition";
    case Errc::in_use: return "in use";
  }
  return "?";
}

const char* to_string(WrOpcode op) {
  switch (op) {
    case WrOpcode::rdma_write: return "RDMA_WRITE";
    case WrOpcode::rdma_write_with_imm: return "RDMA_WRITE_WITH_IMM";
    case WrOpcode::send: return "SEND";
    case WrOpcode::send_with_imm: return "SEND_WITH_IMM";
    case WrOpcode::rdma_read: return "RDMA_READ";
    case WrOpcode::atomic_cmp_and_swp: return "ATOMIC_CMP_AND_SWP";
    case WrOpcode::atomic_fetch_and_add: return "ATOMIC_FETCH_AND_ADD";
  }
  return "?";
}

const char* to_string(WcStatus s) {  // ibv_wc_status_str spellings
  switch (s) {
    case WcStatus::success: return "success";
    case WcStatus::loc_len_err: return "local length error";
    case WcStatus::loc_qp_op_err: return "local QP operation error";
    case WcStatus::loc_prot_err: return "local protection error";
    case WcStatus::wr_flush_err: return "Work Request Flushed Error";
    case WcStatus::bad_resp_err: return "bad response error";
    case WcStatus::loc_access_err: return "local access error";
    case WcStatus::rem_inv_req_err: return "remote invalid request error";
    case WcStatus::rem_access_err: return "remote access error";
    case WcStatus::rem_op_err: return "remote operation error";
    case WcStatus::retry_exc_err: return "transport retry counter exceeded";
    case WcStatus::rnr_retry_exc_err: return "RNR retry counter exceeded";
    case WcStatus::rem_inv_rd_req_err: return "remote invalid RD request";
    case WcStatus::rem_abort_err: return "operation aborted";
    case WcStatus::fatal_err: return "fatal error";
    case WcStatus::resp_timeout_err: return "response timeout error";
    case WcStatus::general_err: return "general error";
  }
  return "?";
}

const char* to_string(QpState s) {
  switch (s) {
    case QpState::reset: return "RESET";
    case QpState::init: return "INIT";
    case QpState::rtr: return "RTR";
    case QpState::rts: return "RTS";
    case QpState::sqd: return "SQD";
    case QpState::sqe: return "SQE";
    case QpState::err: return "ERR";
  }
  return "?";
}

const char* to_string(RxResult r) {
  switch (r) {
    case RxResult::accepted: return "accepted";
    case RxResult::duplicate: return "duplicate";
    case RxResult::malformed: return "malformed";
    case RxResult::wrong_qp: return "wrong_qp";
    case RxResult::bad_state: return "bad_state";
    case RxResult::out_of_window: return "out_of_window";
    case RxResult::nak_sent: return "nak_sent";
    case RxResult::rnr: return "rnr";
    case RxResult::cnp: return "cnp";
    case RxResult::corrupt: return "corrupt";
  }
  return "?";
}

bool mtu_from_bytes(uint32_t bytes, Mtu& out) {
  switch (bytes) {
    case 256: out = Mtu::mtu256; return true;
    case 512: out = Mtu::mtu512; return true;
    case 1024: out = Mtu::mtu1024; return true;
    case 2048: out = Mtu::mtu2048; return true;
    case 4096: out = Mtu::mtu4096; return true;
    default: return false;
  }
}

Nanos rnr_timer_ns(uint8_t code) {
  // IBTA table 45, in units of 10 ns (code 0 is the longest: 655.36 ms).
  static constexpr uint32_t k10ns[32] = {
      65536000, 1000,    2000,    3000,    4000,    6000,    8000,    12000,  16000,   24000,   32000,
      48000,    64000,   96000,   128000,  192000,  256000,  384000,  512000, 768000,  1024000, 1536000,
      2048000,  3072000, 4096000, 6144000, 8192000, 12288000, 16384000, 24576000, 32768000, 49152000};
  return Nanos{k10ns[code & 31]} * 10;
}

Nanos ack_timeout_ns(uint8_t timeout) {
  if (timeout == 0) return kNever;
  return Nanos{4096} << (timeout & 31);  // 4.096 us * 2^timeout
}

QpStats& QpStats::operator+=(const QpStats& o) {
  tx_packets += o.tx_packets;
  tx_bytes += o.tx_bytes;
  rx_packets += o.rx_packets;
  rx_bytes += o.rx_bytes;
  retransmits += o.retransmits;
  timeouts += o.timeouts;
  seq_naks_sent += o.seq_naks_sent;
  seq_naks_received += o.seq_naks_received;
  rnr_naks_sent += o.rnr_naks_sent;
  rnr_naks_received += o.rnr_naks_received;
  access_naks_sent += o.access_naks_sent;
  duplicates += o.duplicates;
  out_of_order += o.out_of_order;
  dropped += o.dropped;
  cnps_sent += o.cnps_sent;
  cnps_received += o.cnps_received;
  cnps_steered += o.cnps_steered;
  ecn_ce_received += o.ecn_ce_received;
  acks_sent += o.acks_sent;
  selective_resends += o.selective_resends;
  spurious_naks += o.spurious_naks;
  return *this;
}

}  // namespace rfab::rc
