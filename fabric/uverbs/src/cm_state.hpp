// The connection state machine of one rdma_cm id over the CM exchange (cm_wire.hpp): which application
// calls and which side-channel inputs are valid in each state, the state each leads to, the rdma_cm event
// the application gets and the frame that goes to the peer. Pure, so every transition is unit tested;
// the interposer (rdmacm_*.cpp) does the I/O and the QP transitions around it.
#pragma once
#include <rdma/rdma_cma.h>

#include <optional>

#include "cm_wire.hpp"

namespace rfab::uverbs::cm {

enum class State {
  kIdle,           // created
  kBound,          // rdma_bind_addr
  kListening,      // rdma_listen: a TCP listener on the address and port
  kAddrResolved,   // rdma_resolve_addr found the device owning the route's source address
  kRouteResolved,  // rdma_resolve_route
  kConnecting,     // rdma_connect: the TCP side channel is being opened
  kReqSent,        // REQ sent, waiting for REP or REJ
  kReqWait,        // passive: a connection accepted by a listener, its REQ not read yet (internal)
  kReqReceived,    // passive: CONNECT_REQUEST delivered, waiting for rdma_accept or rdma_reject
  kRepReceived,    // active, application-owned QP: CONNECT_RESPONSE delivered, waiting for rdma_establish
  kRepSent,        // passive: REP sent, waiting for RTU
  kEstablished,
  kDisconnected,
  kFailed,         // rejected, unreachable or a broken exchange: only rdma_destroy_id is left
};

enum class Input {
  // application calls
  kBind, kListen, kAddrResolved, kAddrError, kResolveRoute, kConnect, kAccept, kReject, kEstablish,
  kDisconnect,
  // the side channel
  kTcpUp,          // the active side's TCP connect completed
  kTcpRefused,     // nobody listens on the address/port (TCP reset)
  kTcpUnreachable, // no answer, or no route, within the connect timeout
  kGotReq, kGotRep, kGotRepOwnQp, kGotRej, kGotRtu, kGotDreq,
  kClosed,         // the peer closed the side channel (its process ended or destroyed the id)
  kBadFrame,       // the peer sent something that is not a CM frame
};

struct Step {
  State next;
  std::optional<rdma_cm_event_type> event;  // delivered on the id's channel
  std::optional<Type> send;                 // the frame that goes to the peer
};

// nullopt: the input is not valid in state `s` (an application call fails with EINVAL; a frame out of
// order breaks the exchange).
std::optional<Step> step(State s, Input in);

const char* state_name(State s);

// IBTA CM rejection reasons rdma_cm programs see in the REJECTED event's status.
inline constexpr int kRejectInvalidServiceId = 8;  // nobody listens on the port
inline constexpr int kRejectConsumer = 28;         // rdma_reject

}  // namespace rfab::uverbs::cm
