// The rdma_cm id state machine (cm_state.hpp) and the QP attributes of a connection (cm_qp.hpp): each
// side's path through a connection, the failures a connect can meet, calls made in the wrong state, and
// the RTR/RTS values negotiated from the two ends' messages.
#include <gtest/gtest.h>

#include "cm_qp.hpp"
#include "cm_state.hpp"

using namespace rfab::uverbs;
using cm::Input;
using cm::State;

namespace {

// Runs `inputs` from `s`; every one must be valid. Returns the final state and the events and frames.
struct Trace {
  State end;
  std::vector<rdma_cm_event_type> events;
  std::vector<cm::Type> frames;
};

Trace run(State s, std::initializer_list<Input> inputs) {
  Trace t{s, {}, {}};
  for (Input in : inputs) {
    auto st = cm::step(t.end, in);
    EXPECT_TRUE(st) << "input " << int(in) << " refused in state " << cm::state_name(t.end);
    if (!st) break;
    t.end = st->next;
    if (st->event) t.events.push_back(*st->event);
    if (st->send) t.frames.push_back(*st->send);
  }
  return t;
}

}  // namespace

TEST(CmState, ActiveSideConnectsAndDisconnects) {
  const Trace t = run(State::kIdle, {Input::kAddrResolved, Input::kResolveRoute, Input::kConnect, Input::kTcpUp,
                                     Input::kGotRep, Input::kDisconnect});
  EXPECT_EQ(t.end, State::kDisconnected);
  EXPECT_EQ(t.events, (std::vector<rdma_cm_event_type>{RDMA_CM_EVENT_ADDR_RESOLVED, RDMA_CM_EVENT_ROUTE_RESOLVED,
                                                      RDMA_CM_EVENT_ESTABLISHED, RDMA_CM_EVENT_DISCONNECTED}));
  EXPECT_EQ(t.frames, (std::vector<cm::Type>{cm::Type::kRequest, cm::Type::kReadyToUse, cm::Type::kDisconnect}));
}

TEST(CmState, PassiveSideAcceptsAndSeesThePeerDisconnect) {
  EXPECT_EQ(run(State::kIdle, {Input::kBind, Input::kListen}).end, State::kListening);
  const Trace t = run(State::kReqWait, {Input::kGotReq, Input::kAccept, Input::kGotRtu, Input::kGotDreq});
  EXPECT_EQ(t.end, State::kDisconnected);
  EXPECT_EQ(t.events, (std::vector<rdma_cm_event_type>{RDMA_CM_EVENT_CONNECT_REQUEST, RDMA_CM_EVENT_ESTABLISHED,
                                                      RDMA_CM_EVENT_DISCONNECTED}));
  EXPECT_EQ(t.frames, (std::vector<cm::Type>{cm::Type::kReply}));
  // The program disconnects too after the event (rping does): accepted, nothing more sent or reported.
  auto again = cm::step(State::kDisconnected, Input::kDisconnect);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->event);
  EXPECT_FALSE(again->send);
}

TEST(CmState, ProgramOwnedQpWaitsForEstablish) {
  const Trace t = run(State::kReqSent, {Input::kGotRepOwnQp, Input::kEstablish});
  EXPECT_EQ(t.end, State::kEstablished);
  EXPECT_EQ(t.events, std::vector<rdma_cm_event_type>{RDMA_CM_EVENT_CONNECT_RESPONSE});
  EXPECT_EQ(t.frames, std::vector<cm::Type>{cm::Type::kReadyToUse});
}

TEST(CmState, ConnectFailuresBecomeTheirEvents) {
  EXPECT_EQ(run(State::kConnecting, {Input::kTcpRefused}).events, std::vector{RDMA_CM_EVENT_REJECTED});
  EXPECT_EQ(run(State::kConnecting, {Input::kTcpUnreachable}).events, std::vector{RDMA_CM_EVENT_UNREACHABLE});
  EXPECT_EQ(run(State::kReqSent, {Input::kGotRej}).events, std::vector{RDMA_CM_EVENT_REJECTED});
  EXPECT_EQ(run(State::kReqSent, {Input::kClosed}).events, std::vector{RDMA_CM_EVENT_CONNECT_ERROR});
  const Trace addr = run(State::kIdle, {Input::kAddrError});
  EXPECT_EQ(addr.events, std::vector{RDMA_CM_EVENT_ADDR_ERROR});
  EXPECT_EQ(addr.end, State::kIdle);  // another rdma_resolve_addr may follow
  const Trace rej = run(State::kReqReceived, {Input::kReject});
  EXPECT_EQ(rej.end, State::kFailed);
  EXPECT_EQ(rej.frames, std::vector{cm::Type::kReject});
  EXPECT_TRUE(rej.events.empty());
}

TEST(CmState, ADeadPeerIsDisconnectedOnce) {
  for (State s : {State::kEstablished, State::kRepSent, State::kRepReceived}) {
    const Trace t = run(s, {Input::kClosed, Input::kClosed, Input::kGotDreq});
    EXPECT_EQ(t.end, State::kDisconnected) << cm::state_name(s);
    EXPECT_EQ(t.events, std::vector{RDMA_CM_EVENT_DISCONNECTED}) << cm::state_name(s);
  }
  // Before the program saw the request there is nobody to tell.
  EXPECT_TRUE(run(State::kReqWait, {Input::kClosed}).events.empty());
}

TEST(CmState, CallsInTheWrongStateAreRefused) {
  EXPECT_FALSE(cm::step(State::kIdle, Input::kConnect));         // no route
  EXPECT_FALSE(cm::step(State::kAddrResolved, Input::kConnect)); // no route yet
  EXPECT_FALSE(cm::step(State::kIdle, Input::kListen));          // not bound
  EXPECT_FALSE(cm::step(State::kIdle, Input::kResolveRoute));
  EXPECT_FALSE(cm::step(State::kEstablished, Input::kAccept));
  EXPECT_FALSE(cm::step(State::kReqSent, Input::kAccept));
  EXPECT_FALSE(cm::step(State::kEstablished, Input::kReject));
  EXPECT_FALSE(cm::step(State::kIdle, Input::kDisconnect));
  EXPECT_FALSE(cm::step(State::kListening, Input::kBind));
  EXPECT_FALSE(cm::step(State::kEstablished, Input::kEstablish));
  // Frames out of order.
  EXPECT_FALSE(cm::step(State::kReqSent, Input::kGotRtu));
  EXPECT_FALSE(cm::step(State::kEstablished, Input::kGotRep));
  EXPECT_FALSE(cm::step(State::kRepSent, Input::kGotReq));
}

TEST(CmQp, InitAllowsReadAndAtomicOnlyWhenServingThem) {
  cm::ConnParams p;
  EXPECT_EQ(cm::init_attrs(p).attr.qp_access_flags, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  p.responder_resources = 1;
  const cm::QpStep s = cm::init_attrs(p);
  EXPECT_EQ(s.attr.qp_state, IBV_QPS_INIT);
  EXPECT_EQ(s.attr.port_num, 1);
  EXPECT_TRUE(s.attr.qp_access_flags & IBV_ACCESS_REMOTE_READ);
  EXPECT_EQ(s.mask, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

TEST(CmQp, RtrAndRtsFollowBothEnds) {
  cm::Message peer;
  peer.qpn = 0xabcdef;
  peer.psn = 0x123456;
  for (int i = 0; i < 16; ++i) peer.gid[i] = uint8_t(i);
  peer.path_mtu = IBV_MTU_1024;
  peer.responder_resources = 4;  // the peer serves 4
  peer.initiator_depth = 2;      // and issues 2
  cm::ConnParams local;
  local.responder_resources = 8;
  local.initiator_depth = 16;
  local.retry_count = 9;  // more than IBTA's 7
  local.rnr_retry_count = 3;

  const cm::QpStep rtr = cm::rtr_attrs(peer, local, IBV_MTU_4096, 0x20);
  EXPECT_EQ(rtr.attr.qp_state, IBV_QPS_RTR);
  EXPECT_EQ(rtr.attr.dest_qp_num, 0xabcdefu);
  EXPECT_EQ(rtr.attr.rq_psn, 0x123456u);
  EXPECT_EQ(rtr.attr.path_mtu, IBV_MTU_1024);  // the smaller of the two ends
  EXPECT_EQ(rtr.attr.max_dest_rd_atomic, 2);   // no more than the peer issues
  EXPECT_EQ(rtr.attr.ah_attr.is_global, 1);
  EXPECT_EQ(rtr.attr.ah_attr.grh.dgid.raw[15], 15);
  EXPECT_EQ(rtr.attr.ah_attr.grh.traffic_class, 0x20);
  EXPECT_TRUE(rtr.mask & IBV_QP_AV);
  EXPECT_TRUE(rtr.mask & IBV_QP_MIN_RNR_TIMER);

  peer.path_mtu = 0;  // not stated: this port's
  EXPECT_EQ(cm::rtr_attrs(peer, local, IBV_MTU_4096, 0).attr.path_mtu, IBV_MTU_4096);

  const cm::QpStep rts = cm::rts_attrs(0x1abcdef, peer, local, 14);
  EXPECT_EQ(rts.attr.qp_state, IBV_QPS_RTS);
  EXPECT_EQ(rts.attr.sq_psn, 0xabcdefu);       // 24 bits
  EXPECT_EQ(rts.attr.max_rd_atomic, 4);        // no more than the peer serves
  EXPECT_EQ(rts.attr.retry_cnt, 7);
  EXPECT_EQ(rts.attr.rnr_retry, 3);
  EXPECT_EQ(rts.attr.timeout, 14);
}

TEST(CmQp, DepthsAskedAsMaximumAreTheDevicesMaximum) {
  EXPECT_EQ(cm::clamp_depth(RDMA_MAX_RESP_RES, 128), 128);
  EXPECT_EQ(cm::clamp_depth(1, 128), 1);
}
