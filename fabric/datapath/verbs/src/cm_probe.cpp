#include "rfab/verbs/cm_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <rdma/rdma_cma.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace rfab::verbs {
namespace {

using Clock = std::chrono::steady_clock;

// Owns the channel, the id and the QP rdma_connect needs; releases them in the right order.
struct CmState {
  rdma_event_channel* ch = nullptr;
  rdma_cm_id* id = nullptr;
  bool qp = false;
  ~CmState() {
    if (qp) rdma_destroy_qp(id);
    if (id) rdma_destroy_id(id);
    if (ch) rdma_destroy_event_channel(ch);
  }
};

// Next CM event (type and status) within the deadline; nullopt on timeout.
std::optional<std::pair<rdma_cm_event_type, int>> next_event(rdma_event_channel* ch, Clock::time_point until) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{ch->fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    rdma_cm_event* ev = nullptr;
    if (rdma_get_cm_event(ch, &ev) != 0) {
      if (errno == EAGAIN) continue;
      return std::nullopt;
    }
    std::pair<rdma_cm_event_type, int> out{ev->event, ev->status};
    rdma_ack_cm_event(ev);
    return out;
  }
}

}  // namespace

CmProbeResult cm_probe(const std::string& peer, uint16_t port, std::chrono::milliseconds deadline) {
  using O = CmProbeResult::Outcome;
  CmProbeResult res;
  sockaddr_storage ss{};
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, peer.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, peer.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
  } else {
    res.outcome = O::no_route;
    res.detail = "'" + peer + "' is not a numeric address";
    return res;
  }
  CmState st;
  st.ch = rdma_create_event_channel();
  if (!st.ch) {
    res.outcome = O::no_rdma_cm;
    res.detail = std::string("rdma_create_event_channel: ") + std::strerror(errno) + " (rdma_ucm not loaded?)";
    return res;
  }
  ::fcntl(st.ch->fd, F_SETFL, ::fcntl(st.ch->fd, F_GETFL) | O_NONBLOCK);
  if (rdma_create_id(st.ch, &st.id, nullptr, RDMA_PS_TCP) != 0) {
    res.outcome = O::no_rdma_cm;
    res.detail = std::string("rdma_create_id: ") + std::strerror(errno);
    return res;
  }
  const auto until = Clock::now() + deadline;
  const int step_ms = static_cast<int>(deadline.count() / 2);
  auto expect = [&](rdma_cm_event_type want, const char* step) -> bool {
    auto ev = next_event(st.ch, until);
    if (!ev) {
      res.outcome = O::no_answer;
      res.detail = std::string(step) + ": no CM event within " + std::to_string(deadline.count()) + " ms";
      return false;
    }
    if (ev->first != want) {
      res.outcome = O::no_route;
      res.detail = std::string(step) + ": " + rdma_event_str(ev->first) + " (status " + std::to_string(ev->second) + ")";
      return false;
    }
    return true;
  };
  if (rdma_resolve_addr(st.id, nullptr, reinterpret_cast<sockaddr*>(&ss), step_ms) != 0) {
    res.outcome = O::no_route;
    res.detail = std::string("rdma_resolve_addr: ") + std::strerror(errno) + " (no RDMA device on the route?)";
    return res;
  }
  if (!expect(RDMA_CM_EVENT_ADDR_RESOLVED, "address resolution")) return res;
  if (st.id->verbs) res.device = ibv_get_device_name(st.id->verbs->device);
  if (rdma_resolve_route(st.id, step_ms) != 0) {
    res.outcome = O::no_route;
    res.detail = std::string("rdma_resolve_route: ") + std::strerror(errno);
    return res;
  }
  if (!expect(RDMA_CM_EVENT_ROUTE_RESOLVED, "route resolution")) return res;
  ibv_qp_init_attr qa{};
  qa.qp_type = IBV_QPT_RC;
  qa.cap.max_send_wr = qa.cap.max_recv_wr = 1;
  qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
  if (rdma_create_qp(st.id, nullptr, &qa) != 0) {
    res.outcome = O::no_rdma_cm;
    res.detail = std::string("rdma_create_qp: ") + std::strerror(errno);
    return res;
  }
  st.qp = true;
  rdma_conn_param cp{};
  cp.retry_count = 1;
  if (rdma_connect(st.id, &cp) != 0) {
    res.outcome = O::no_answer;
    res.detail = std::string("rdma_connect: ") + std::strerror(errno);
    return res;
  }
  auto ev = next_event(st.ch, until);
  if (!ev) {
    res.outcome = O::no_answer;
    res.detail = "connection request to port " + std::to_string(port) + " unanswered within " +
                 std::to_string(deadline.count()) + " ms";
    return res;
  }
  if (ev->first == RDMA_CM_EVENT_REJECTED || ev->first == RDMA_CM_EVENT_ESTABLISHED ||
      ev->first == RDMA_CM_EVENT_CONNECT_RESPONSE) {
    res.outcome = O::answered;
    res.detail = std::string("peer's RDMA stack answered over RoCE (") + rdma_event_str(ev->first) + ")";
    if (ev->first != RDMA_CM_EVENT_REJECTED) rdma_disconnect(st.id);
  } else {
    res.outcome = O::no_answer;
    res.detail = std::string("connection request: ") + rdma_event_str(ev->first) + " (status " +
                 std::to_string(ev->second) + ")";
  }
  return res;
}

}  // namespace rfab::verbs
