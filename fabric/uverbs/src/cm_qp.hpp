// The QP attributes rdma_cm applies to a connection's QP (rdma_create_qp: INIT; rdma_accept and the
// active side's handling of REP: RTR and RTS; rdma_init_qp_attr hands the same values to programs that
// move their own QP). Pure functions of the two ends' CM messages, unit tested.
#pragma once
#include <infiniband/verbs.h>

#include <cstdint>

#include "cm_wire.hpp"

namespace rfab::uverbs::cm {

// What one end asked for in rdma_connect / rdma_accept (struct rdma_conn_param), clamped to the device.
struct ConnParams {
  uint8_t responder_resources = 0;  // READ/atomic requests this end serves (its QP's max_dest_rd_atomic)
  uint8_t initiator_depth = 0;      // READ/atomic requests this end issues (its QP's max_rd_atomic)
  uint8_t retry_count = 7;
  uint8_t rnr_retry_count = 7;
};

// rdma_conn_param's depths as the device grants them (RDMA_MAX_RESP_RES / RDMA_MAX_INIT_DEPTH, 0xff,
// ask for the most the device has).
uint8_t clamp_depth(uint8_t asked, uint8_t device_max);

struct QpStep {
  ibv_qp_attr attr{};
  int mask = 0;
};

// RESET -> INIT: port 1, P_Key index 0; remote WRITE always allowed, READ and atomics when this end
// serves any (responder_resources > 0), as the kernel's CM sets the access flags.
QpStep init_attrs(const ConnParams& local);

// INIT -> RTR towards the peer that sent `peer` (its QPN, initial PSN, GID). The path MTU is the smaller
// of this port's active MTU and the one the peer stated; the READ/atomic depth this end serves is its
// own responder_resources, but no more than the peer will issue.
QpStep rtr_attrs(const Message& peer, const ConnParams& local, uint8_t local_mtu, uint8_t traffic_class);

// RTR -> RTS: this end's initial send PSN, and as many outstanding READ/atomic requests as it asked for
// and the peer serves; retry counts as the active side asked (the passive side takes them from the REQ).
QpStep rts_attrs(uint32_t local_psn, const Message& peer, const ConnParams& local, uint8_t ack_timeout);

}  // namespace rfab::uverbs::cm
