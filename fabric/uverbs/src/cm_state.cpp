// The rdma_cm id state machine (cm_state.hpp).
#include "cm_state.hpp"

namespace rfab::uverbs::cm {

std::optional<Step> step(State s, Input in) {
  using S = State;
  using I = Input;
  auto to = [](State n, std::optional<rdma_cm_event_type> ev = std::nullopt,
               std::optional<Type> send = std::nullopt) { return std::optional<Step>(Step{n, ev, send}); };
  switch (in) {
    case I::kBind:
      if (s == S::kIdle) return to(S::kBound);
      break;
    case I::kListen:
      if (s == S::kBound) return to(S::kListening);
      break;
    case I::kAddrResolved:
      if (s == S::kIdle || s == S::kBound) return to(S::kAddrResolved, RDMA_CM_EVENT_ADDR_RESOLVED);
      break;
    case I::kAddrError:  // the id stays usable for another rdma_resolve_addr
      if (s == S::kIdle || s == S::kBound) return to(s, RDMA_CM_EVENT_ADDR_ERROR);
      break;
    case I::kResolveRoute:
      if (s == S::kAddrResolved) return to(S::kRouteResolved, RDMA_CM_EVENT_ROUTE_RESOLVED);
      break;
    case I::kConnect:
      if (s == S::kRouteResolved) return to(S::kConnecting);
      break;
    case I::kTcpUp:
      if (s == S::kConnecting) return to(S::kReqSent, std::nullopt, Type::kRequest);
      break;
    case I::kTcpRefused:
      if (s == S::kConnecting) return to(S::kFailed, RDMA_CM_EVENT_REJECTED);
      break;
    case I::kTcpUnreachable:
      if (s == S::kConnecting) return to(S::kFailed, RDMA_CM_EVENT_UNREACHABLE);
      break;
    case I::kGotReq:
      if (s == S::kReqWait) return to(S::kReqReceived, RDMA_CM_EVENT_CONNECT_REQUEST);
      break;
    case I::kAccept:
      if (s == S::kReqReceived) return to(S::kRepSent, std::nullopt, Type::kReply);
      break;
    case I::kReject:
      if (s == S::kReqReceived) return to(S::kFailed, std::nullopt, Type::kReject);
      break;
    case I::kGotRep:
      if (s == S::kReqSent) return to(S::kEstablished, RDMA_CM_EVENT_ESTABLISHED, Type::kReadyToUse);
      break;
    case I::kGotRepOwnQp:
      if (s == S::kReqSent) return to(S::kRepReceived, RDMA_CM_EVENT_CONNECT_RESPONSE);
      break;
    case I::kEstablish:
      if (s == S::kRepReceived) return to(S::kEstablished, std::nullopt, Type::kReadyToUse);
      break;
    case I::kGotRej:
      if (s == S::kReqSent || s == S::kRepSent) return to(S::kFailed, RDMA_CM_EVENT_REJECTED);
      break;
    case I::kGotRtu:
      if (s == S::kRepSent) return to(S::kEstablished, RDMA_CM_EVENT_ESTABLISHED);
      break;
    case I::kDisconnect:
      if (s == S::kEstablished || s == S::kRepSent || s == S::kRepReceived)
        return to(S::kDisconnected, RDMA_CM_EVENT_DISCONNECTED, Type::kDisconnect);
      if (s == S::kDisconnected) return to(S::kDisconnected);  // both ends may call it; once is enough
      break;
    case I::kGotDreq:
    case I::kClosed:
    case I::kBadFrame:
      switch (s) {
        case S::kEstablished:
        case S::kRepReceived:
          return to(S::kDisconnected, RDMA_CM_EVENT_DISCONNECTED);
        case S::kRepSent:
          // The active side disconnected before its RTU arrived (or never sent one): the connection
          // the application accepted is gone.
          return to(S::kDisconnected, RDMA_CM_EVENT_DISCONNECTED);
        case S::kReqSent:
          return to(S::kFailed, RDMA_CM_EVENT_CONNECT_ERROR);
        case S::kReqWait:
        case S::kReqReceived:
        case S::kDisconnected:
        case S::kFailed:
          return to(s == S::kReqWait || s == S::kReqReceived ? S::kFailed : s);  // nothing to report
        default:
          break;
      }
      break;
  }
  return std::nullopt;
}

const char* state_name(State s) {
  switch (s) {
    case State::kIdle: return "idle";
    case State::kBound: return "bound";
    case State::kListening: return "listening";
    case State::kAddrResolved: return "address resolved";
    case State::kRouteResolved: return "route resolved";
    case State::kConnecting: return "connecting";
    case State::kReqSent: return "request sent";
    case State::kReqWait: return "waiting for a request";
    case State::kReqReceived: return "request received";
    case State::kRepReceived: return "reply received";
    case State::kRepSent: return "reply sent";
    case State::kEstablished: return "established";
    case State::kDisconnected: return "disconnected";
    case State::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace rfab::uverbs::cm
