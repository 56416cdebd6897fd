// The librdmacm interposer's objects (rdmacm_*.cpp): event channels, ids and the events delivered on
// them. rdma_cm programs only see the librdmacm structs at the start of each (rdma_event_channel,
// rdma_cm_id, rdma_cm_event).
//
// Every id's connection state, its side-channel socket and every channel's queue change under one lock
// (cma::lock()), taken by the exported rdma_* functions and by the CM service thread that reads the side
// channels (rdmacm_service.cpp). Verbs calls made under it (ibv_modify_qp on a connection's QP) take the
// device runtime's lock inside it, never the other way round.
#pragma once
#include <rdma/rdma_cma.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <mutex>
#include <vector>

#include "cm_qp.hpp"
#include "cm_state.hpp"
#include "cm_wire.hpp"
#include "provider.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::uverbs::cma {

// The rdma_* calls' convention: -1 with errno set and the reason logged, or 0 with errno cleared.
inline int fail_cm(int err, const std::string& why) {
  fail(err, "rdma_cm: " + why);
  return -1;
}
inline int no_error() {
  errno = 0;
  return 0;
}

struct EventChannel {
  rdma_event_channel ch;  // first; ch.fd is an eventfd (semaphore mode) counting queued events
  std::mutex mu;
  std::deque<rdma_cm_event*> queue;
};

struct Event {
  rdma_cm_event ev;              // first
  std::vector<uint8_t> private_data;
};

// The IB CM exchange of one id over QP1 (cm_gsi.hpp, rdmacm_mad.cpp): how a connection to a kernel
// rdma_cm peer, which has no TCP side channel, is made. The active side sends a REQ as soon as its TCP
// connect is refused; whichever answers (a TCP listener or the peer's CM) carries the connection.
struct MadLink {
  bool req_out = false;        // a REQ went out and is awaited (retransmitted until answered)
  bool active = false;         // the connection runs over MADs (the peer's CM sent a REP, or its REQ came)
  bool passive = false;        // this end received the REQ
  uint32_t local_comm_id = 0;  // this end's communication ID
  uint32_t remote_comm_id = 0; // the peer's, from its REP
  uint32_t remote_qpn = 0;     // the peer's QP (a DREQ names it)
  uint64_t tid = 0;
  udp::Address peer;           // the peer's address
  std::array<uint8_t, 256> pending{};  // the MAD retransmitted until answered (REQ or DREQ)
  bool resending = false;
  int tries = 0;
  int64_t resend_at_ns = 0;
  int64_t answer_by_ns = 0;    // REQ: the peer's CM has not answered by then, so it is not there
  // A REJ that came while the side channel was still being retried: reported (REJECTED) only when the
  // retries end, because a provider peer re-creating its listener rejects the REQ but takes the TCP
  // connection a moment later.
  bool held_reject = false;
  uint16_t held_reason = 0;
  std::vector<uint8_t> held_private_data;
};

struct Id {
  rdma_cm_id id;  // first
  uint64_t token = 0;  // the service thread's handle (epoll data): a stale readiness finds no id
  cm::State state = cm::State::kIdle;
  int fd = -1;          // the TCP listener (kListening) or the side channel of the connection
  cm::FrameReader reader;
  Id* listener = nullptr;  // passive: the listening id the request came through
  bool has_peer = false;
  cm::Message peer;     // the peer's REQ (passive) or REP (active)
  cm::ConnParams local; // what this end asked for in rdma_connect / rdma_accept
  std::vector<uint8_t> req_private_data;  // the REQ's, kept while the TCP connect completes
  uint32_t psn = 0;     // this end's initial send PSN
  uint32_t own_qpn = 0; // conn_param->qp_num when the program created and moves its QP itself
  uint8_t ack_timeout = 14;  // RDMA_OPTION_ID_ACK_TIMEOUT (4.096 us * 2^14 = 67 ms)
  uint8_t tos = 0;           // RDMA_OPTION_ID_TOS
  int64_t connect_deadline_ns = 0;      // no TCP connection by then: UNREACHABLE
  int64_t refused_retry_until_ns = 0;   // a refused TCP connect is tried again until then
  int64_t retry_at_ns = 0;              // the next attempt after a refusal
  bool own_cqs = false;      // rdma_create_qp made the CQs (and destroys them with the QP)
  ibv_sa_path_rec path{};    // route.path_rec points here after rdma_resolve_route
  int unacked = 0;           // events delivered and not yet acknowledged
  bool destroyed = false;    // rdma_destroy_id ran; freed at the last acknowledgement
  bool visible = true;       // false for a passive connection until its CONNECT_REQUEST is delivered
  MadLink mad;
};

std::mutex& lock();
// Notified (under lock()) whenever an event is acknowledged: rdma_destroy_id waits on it.
std::condition_variable& acked();

inline Id* id_of(rdma_cm_id* id) { return reinterpret_cast<Id*>(id); }
inline EventChannel* channel_of(rdma_event_channel* ch) { return reinterpret_cast<EventChannel*>(ch); }

// Under lock(): queues an event on the id's channel. `from` supplies the private data, depths and QPN a
// connection event carries; `listen` is the listening id of a CONNECT_REQUEST.
void post(Id& id, rdma_cm_event_type type, int status, const cm::Message* from = nullptr, Id* listen = nullptr);

// Under lock(): runs `in` through the state machine (cm_state.hpp). False when it is not valid in the
// id's state. Posts the step's event (with `status`, `from` as in post()) and sends `frame` when the step
// sends one (its type set from the step); a frame that cannot be sent closes the side channel.
bool apply(Id& id, cm::Input in, int status = 0, const cm::Message* from = nullptr, const cm::Message* frame = nullptr);

// This end's half of a REQ/REP: its QP number, PSN, GID, depths and MTU.
cm::Message local_message(const Id& id, cm::Type type);

// The QP a connection runs on (the rdma_create_qp one, or none when the program owns its QP).
ibv_qp* qp_of(const Id& id);

// Under lock(): the active side's REP (side channel or MAD): the QP to RTR/RTS, the RTU, ESTABLISHED.
void got_reply(Id& id, const cm::Message& m);

// Moves the connection's QP to RTR and RTS towards id.peer. 0, or an errno with a message printed.
int connect_qp(Id& id);

// How long rdma_connect waits for the TCP side channel before RDMA_CM_EVENT_UNREACHABLE.
inline constexpr int64_t kConnectTimeoutNs = 5'000'000'000;
// A refused side-channel connect is retried this long (every kRefusedRetryGapNs) before the program
// gets RDMA_CM_EVENT_REJECTED: a passive side that re-creates its listener on the same port between two
// connections (perftest -R does, right after a handshake its client answers at once) is listening again
// within that time. A kernel CM rejects a REQ for a port without a listener at once; here the rejection
// comes after this delay.
inline constexpr int64_t kRefusedRetryNs = 1'000'000'000;
inline constexpr int64_t kRefusedRetryGapNs = 20'000'000;

// Under lock(): opens (or re-opens, after a refusal) the active side's TCP connection to the route's
// destination, from the route's source address; the service thread completes it.
void open_side_channel(Id& id);

// The IB CM over QP1 (rdmacm_mad.cpp), all under lock(). A REQ goes out when the TCP side channel is
// refused; its answer is waited for this long (MRA extends it), retransmitted every kMadResendNs.
inline constexpr int64_t kMadAnswerNs = 2'000'000'000;
inline constexpr int64_t kMadResendNs = 500'000'000;
inline constexpr int kMadMaxTries = 4;
void mad_send_req(Id& id);
// Sends the message `m` of a connection that runs over MADs (REJ, RTU, DREQ with retransmission).
void mad_send(Id& id, const cm::Message& m);
void mad_receive_all();  // the inbox's packets (cm_gsi.hpp): REQ, REP, REJ, MRA, RTU, DREQ, DREP
// Retransmits what is due; lowers `timeout_ms` to the next resend.
void mad_timers(int64_t now, int& timeout_ms);
void mad_goodbye(Id& id);  // an id going away while connected over MADs: one DREQ, unanswered

// Service thread (rdmacm_service.cpp), all under lock().
void watch(Id& id, uint32_t epoll_events);  // start or change watching id.fd
void close_socket(Id& id);                  // stop watching and close id.fd
void register_id(Id& id);                   // gives the id its token
void unregister_id(Id& id);               // also closes its socket
void for_each_id(const std::function<void(Id&)>& f);
int64_t now_ns();

// The device context owning `addr` (kept open for the process), or nullptr.
ibv_context* context_for(const udp::Address& addr);
// The address of an IPv4-mapped IPv6 socket address as IPv4, so both compare with the device's.
udp::Address normalized(const sockaddr* sa);
// The port's active MTU (enum ibv_mtu) of a provider context.
uint8_t active_mtu(ibv_context* ctx);

}  // namespace rfab::uverbs::cma
