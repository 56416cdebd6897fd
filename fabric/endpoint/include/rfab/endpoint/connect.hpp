// Bringing an RC QP up: the one place in rfab that walks the IBTA ladder RESET -> INIT -> RTR -> RTS and
// decides which attributes each step carries. Every user of QPs (rfab perf in both side-channel dialects,
// the collectives' RoCE transport, rfab doctor, the emulator's RC hosts) goes through it, whatever the
// device (rfab's engine, libibverbs).
//
//   uint32_t q = endpoint::open_qp(dev, cfg, access);   // create, RESET -> INIT: receives may be posted
//   ... exchange QPN, first PSN, address with the peer out of band ...
//   endpoint::connect(dev, q, params);                  // INIT -> RTR -> RTS
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/endpoint/device.hpp"
#include "rfab/rc/qp.hpp"

namespace rfab::endpoint {

// What the RTR and RTS steps need: the peer's side (from the out-of-band exchange) and this side's choices.
struct ConnectParams {
  udp::Address peer;           // the peer's RoCE address (IP + UDP port); verbs derives the GID from it
  uint32_t remote_qpn = 0;     // the peer's QP
  uint32_t remote_psn = 0;     // the first PSN the peer sends (our rq_psn)
  uint32_t local_psn = 0;      // the first PSN we send (our sq_psn)
  uint32_t mtu = 1024;         // agreed path MTU in bytes: 256, 512, 1024, 2048 or 4096
  uint32_t access = rc::kRemoteWrite;  // what the peer may do to our memory (used when INIT is still due)
  uint8_t max_dest_rd_atomic = 1;  // READ/atomic requests our responder holds resources for
  uint8_t max_rd_atomic = 1;       // READ/atomic requests we keep outstanding (<= the peer's resources)
  uint8_t min_rnr_timer = 1;       // RNR NAK timer code we send (1 = 0.01 ms)
  uint8_t ack_timeout = 14;        // local ACK timeout code: 4.096 us * 2^n
  uint8_t retry_cnt = 7;
  uint8_t rnr_retry = 7;           // 7 = retry forever
  rc::EntropyPolicy entropy;       // UDP source ports to spread packets over (engine only)
  // Selective recovery needs an rfab engine on both ends (negotiate it out of band); go-back-N is IBTA's.
  rc::LossRecovery loss_recovery = rc::LossRecovery::go_back_n;
};

// Creates a QP on `dev` and moves it to INIT with `access` (what the peer may do). Throws EndpointError.
uint32_t open_qp(Device& dev, const QpConfig& config, uint32_t access);

// Moves QP `qpn` to RTS towards the peer (through INIT first if it is still in RESET). Throws
// EndpointError naming the step that failed and why.
void connect(Device& dev, uint32_t qpn, const ConnectParams& p);

// The same ladder on an engine QP that a caller drives itself (the emulator moves its packets in virtual
// time, without a Device). Throws EndpointError.
void connect(rc::QueuePair& qp, const ConnectParams& p);

// One step of the ladder: the attributes, the mask and a name for messages ("INIT", "RTR", "RTS").
struct LadderStep {
  const char* name;
  rc::QpAttr attr;
  uint32_t mask;
};
// The steps from `from` to RTS (from RESET: INIT, RTR, RTS; from INIT: RTR, RTS). Throws EndpointError on
// a path MTU that is not a RoCE MTU.
std::vector<LadderStep> ladder(rc::QpState from, const ConnectParams& p);

}  // namespace rfab::endpoint
