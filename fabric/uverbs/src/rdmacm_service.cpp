// The CM service of the librdmacm interposer: one thread per process that watches every id's TCP side
// channel (listeners, connects in progress, connections) and the QP1 inbox (IB CM MADs, rdmacm_mad.cpp)
// with epoll, reads the CM frames and turns them into state-machine inputs (cm_state.hpp) and rdma_cm
// events; plus the helpers the exported functions
// share (event delivery, the device owning an address, the connection's QP transitions).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "cm_gsi.hpp"
#include "cma.hpp"
#include "provider.hpp"

namespace rfab::uverbs::cma {
namespace {

constexpr uint64_t kInboxToken = 0;

struct Service {
  int ep = -1;
  std::unordered_map<uint64_t, Id*> ids;
  uint64_t next_token = 1;
  std::thread thread;
};

Service& service();

void send_frame(Id& id, const cm::Message& m) {
  if (id.mad.active) return mad_send(id, m);
  auto f = cm::encode(m);
  if (!f || id.fd < 0) return;
  // Frames are small (at most 236 bytes) and one is in flight per step, so a non-blocking send into the
  // socket buffer completes or the connection is broken.
  const ssize_t n = ::send(id.fd, f->data(), f->size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(f->size())) close_socket(id);
}

// The passive side's REQ: the id becomes visible to the program as CONNECT_REQUEST's id.
void got_request(Id& id, const cm::Message& m) {
  sockaddr_storage local{}, remote{};
  socklen_t ll = sizeof local, rl = sizeof remote;
  ::getsockname(id.fd, reinterpret_cast<sockaddr*>(&local), &ll);
  ::getpeername(id.fd, reinterpret_cast<sockaddr*>(&remote), &rl);
  const udp::Address here = normalized(reinterpret_cast<sockaddr*>(&local));
  ibv_context* ctx = context_for(here);
  if (ctx == nullptr) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: request arrived on %s, which no rfab device owns; rejected\n",
                 here.ip_string().c_str());
    cm::Message rej;
    rej.type = cm::Type::kReject;
    rej.reject_reason = cm::kRejectInvalidServiceId;
    send_frame(id, rej);
    id.state = cm::State::kFailed;
    close_socket(id);
    return;
  }
  id.id.verbs = ctx;
  id.id.port_num = 1;
  here.to_sockaddr(id.id.route.addr.src_storage);
  normalized(reinterpret_cast<sockaddr*>(&remote)).to_sockaddr(id.id.route.addr.dst_storage);
  ibv_gid g{};
  if (ibv_query_gid(ctx, 1, 0, &g) == 0) id.id.route.addr.addr.ibaddr.sgid = g;
  std::memcpy(id.id.route.addr.addr.ibaddr.dgid.raw, m.gid.data(), 16);
  id.id.route.addr.addr.ibaddr.pkey = htons(0xffff);
  id.peer = m;
  id.has_peer = true;
  id.visible = true;
  apply(id, cm::Input::kGotReq, 0, &m);
}

}  // namespace

// The active side's REP: the QP goes to RTR/RTS here unless the program moves its own QP.
void got_reply(Id& id, const cm::Message& m) {
  id.peer = m;
  id.has_peer = true;
  if (qp_of(id) == nullptr) {
    apply(id, cm::Input::kGotRepOwnQp, 0, &m);
    return;
  }
  if (const int err = connect_qp(id); err != 0) {
    cm::Message rej;
    rej.type = cm::Type::kReject;
    rej.reject_reason = cm::kRejectConsumer;
    send_frame(id, rej);
    id.state = cm::State::kFailed;
    post(id, RDMA_CM_EVENT_CONNECT_ERROR, -err);
    close_socket(id);
    return;
  }
  const cm::Message rtu = local_message(id, cm::Type::kReadyToUse);
  apply(id, cm::Input::kGotRep, 0, &m, &rtu);
}

namespace {

void got_frame(Id& id, const cm::Message& m) {
  switch (m.type) {
    case cm::Type::kRequest:
      if (id.state == cm::State::kReqWait) return got_request(id, m);
      break;
    case cm::Type::kReply:
      if (id.state == cm::State::kReqSent) return got_reply(id, m);
      break;
    case cm::Type::kReject:
      if (apply(id, cm::Input::kGotRej, m.reject_reason, &m)) {
        close_socket(id);
        return;
      }
      break;
    case cm::Type::kReadyToUse:
      if (apply(id, cm::Input::kGotRtu, 0, &id.peer)) return;
      break;
    case cm::Type::kDisconnect:
      if (apply(id, cm::Input::kGotDreq)) {
        close_socket(id);
        return;
      }
      break;
  }
  std::fprintf(stderr, "rfab-verbs: rdma_cm: unexpected %s in state %s; connection closed\n",
               cm::type_name(m.type), cm::state_name(id.state));
  apply(id, cm::Input::kBadFrame, -EPROTO);
  close_socket(id);
}

void accept_all(Id& listener) {
  for (;;) {
    const int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* child = new Id();
    child->id.channel = listener.id.channel;
    child->id.context = listener.id.context;
    child->id.ps = listener.id.ps;
    child->id.qp_type = listener.id.qp_type;
    child->listener = &listener;
    child->state = cm::State::kReqWait;
    child->visible = false;
    child->fd = fd;
    child->ack_timeout = listener.ack_timeout;
    child->tos = listener.tos;
    register_id(*child);
    watch(*child, EPOLLIN | EPOLLRDHUP);
  }
}

socklen_t sockaddr_len(const sockaddr* sa) {
  return sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

void connect_failed(Id& id, int err) {
  // Nobody takes the side channel: the peer may be a kernel rdma_cm, which answers a REQ on QP1.
  if (err == ECONNREFUSED) mad_send_req(id);
  const int64_t now = now_ns();
  if (err == ECONNREFUSED && now < id.refused_retry_until_ns) {
    id.retry_at_ns = now + kRefusedRetryGapNs;
    return;
  }
  if (err == ECONNREFUSED && id.mad.req_out && now < id.mad.answer_by_ns) {
    id.retry_at_ns = id.mad.answer_by_ns;  // the side channel once more when the REQ's time is up
    return;
  }
  id.mad.req_out = id.mad.resending = false;
  if (err == ECONNREFUSED && id.mad.held_reject) {
    cm::Message rej;
    rej.type = cm::Type::kReject;
    rej.private_data = id.mad.held_private_data;
    apply(id, cm::Input::kTcpRefused, id.mad.held_reason, &rej);  // REJECTED with the peer CM's reason
    return;
  }
  if (err == ECONNREFUSED)
    apply(id, cm::Input::kTcpRefused, cm::kRejectInvalidServiceId);
  else
    apply(id, cm::Input::kTcpUnreachable, -err);
}

// A TCP connect to a port of this host's own address that nobody listens on can connect the socket to
// itself (its ephemeral source port chosen equal to the destination port). That is no listener either.
bool connected_to_itself(int fd) {
  sockaddr_storage here{}, there{};
  socklen_t hl = sizeof here, tl = sizeof there;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&here), &hl) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&there), &tl) != 0)
    return false;
  return hl == tl && std::memcmp(&here, &there, hl) == 0;
}

void connect_done(Id& id) {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(id.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == EINPROGRESS || err == EALREADY) return;
  if (err == 0 && connected_to_itself(id.fd)) err = ECONNREFUSED;
  if (err == 0) {
    id.mad.req_out = id.mad.resending = false;  // an rfab provider listens: no MAD exchange
    cm::Message req = local_message(id, cm::Type::kRequest);
    req.private_data = id.req_private_data;
    watch(id, EPOLLIN | EPOLLRDHUP);
    apply(id, cm::Input::kTcpUp, 0, nullptr, &req);
    return;
  }
  close_socket(id);
  connect_failed(id, err);
}

void readable(Id& id) {
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::recv(id.fd, buf, sizeof buf, 0);
    if (n > 0) {
      id.reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    // End of stream: the frames read before it still count (a DREQ then a close).
    cm::Message m;
    const char* why = nullptr;
    while (id.fd >= 0 && id.reader.next(m, &why)) got_frame(id, m);
    if (id.fd >= 0) {
      apply(id, cm::Input::kClosed, -ECONNRESET);
      close_socket(id);
    }
    return;
  }
  cm::Message m;
  const char* why = nullptr;
  while (id.fd >= 0 && id.reader.next(m, &why)) got_frame(id, m);
  if (why != nullptr && id.fd >= 0) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: %s; connection closed\n", why);
    apply(id, cm::Input::kBadFrame, -EPROTO);
    close_socket(id);
  }
}

void run(Service& s) {
  epoll_event evs[64];
  int timeout_ms = 100;
  for (;;) {
    const int n = ::epoll_wait(s.ep, evs, 64, timeout_ms);
    std::lock_guard<std::mutex> g(lock());
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kInboxToken) {
        mad_receive_all();
        continue;
      }
      auto it = s.ids.find(evs[i].data.u64);
      if (it == s.ids.end() || it->second->fd < 0) continue;
      Id& id = *it->second;
      if (id.state == cm::State::kListening)
        accept_all(id);
      else if (id.state == cm::State::kConnecting)
        connect_done(id);
      else
        readable(id);
      if (!id.visible && id.state == cm::State::kFailed) {
        // A passive connection that closed or was refused before its CONNECT_REQUEST: the program never
        // saw it.
        unregister_id(id);
        delete &id;
      }
    }
    const int64_t now = now_ns();
    timeout_ms = 100;
    for (auto& [token, id] : s.ids) {
      if (id->state != cm::State::kConnecting) continue;
      if (now > id->connect_deadline_ns) {
        id->mad.req_out = id->mad.resending = false;
        close_socket(*id);
        apply(*id, cm::Input::kTcpUnreachable, -ETIMEDOUT);
      } else if (id->fd < 0) {
        if (now >= id->retry_at_ns) open_side_channel(*id);
        timeout_ms = std::min(timeout_ms, static_cast<int>(std::max<int64_t>(1, (id->retry_at_ns - now) / 1'000'000)));
      }
    }
    mad_timers(now, timeout_ms);
  }
}

Service& service() {
  static Service* s = [] {
    auto* sv = new Service();  // lives for the process, as the thread does
    sv->ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kInboxToken;  // QP1 packets (ids' tokens start at 1)
    ::epoll_ctl(sv->ep, EPOLL_CTL_ADD, gsi::inbox().fd(), &ev);
    sv->thread = std::thread([sv] { run(*sv); });
    sv->thread.detach();
    return sv;
  }();
  return *s;
}

struct OpenContexts {
  std::vector<std::pair<Device*, ibv_context*>> list;
};

}  // namespace

std::mutex& lock() {
  static auto* m = new std::mutex();
  return *m;
}

std::condition_variable& acked() {
  static auto* cv = new std::condition_variable();
  return *cv;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void register_id(Id& id) {
  Service& s = service();
  id.token = s.next_token++;
  s.ids[id.token] = &id;
}

void unregister_id(Id& id) {
  mad_goodbye(id);
  close_socket(id);
  service().ids.erase(id.token);
}

void for_each_id(const std::function<void(Id&)>& f) {
  for (auto& [token, id] : service().ids) f(*id);
}

void watch(Id& id, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id.token;
  if (::epoll_ctl(service().ep, EPOLL_CTL_MOD, id.fd, &ev) != 0) ::epoll_ctl(service().ep, EPOLL_CTL_ADD, id.fd, &ev);
}

void close_socket(Id& id) {
  if (id.fd < 0) return;
  ::epoll_ctl(service().ep, EPOLL_CTL_DEL, id.fd, nullptr);
  ::close(id.fd);
  id.fd = -1;
}

void open_side_channel(Id& id) {
  sockaddr* dst = &id.id.route.addr.dst_addr;
  const int fd = ::socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    apply(id, cm::Input::kTcpUnreachable, -errno);
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // From the address the route resolved to, so the peer sees the connection on the right device.
  sockaddr_storage src{};
  std::memcpy(&src, &id.id.route.addr.src_storage, sizeof src);
  if (src.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&src)->sin_port = 0;
  if (src.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&src)->sin6_port = 0;
  if (src.ss_family == dst->sa_family) (void)::bind(fd, reinterpret_cast<sockaddr*>(&src), sockaddr_len(dst));
  id.fd = fd;
  if (::connect(fd, dst, sockaddr_len(dst)) == 0 || errno == EINPROGRESS) {
    watch(id, EPOLLOUT);
    return;
  }
  const int err = errno;
  close_socket(id);
  connect_failed(id, err);
}

void post(Id& id, rdma_cm_event_type type, int status, const cm::Message* from, Id* listen) {
  auto* e = new Event();
  std::memset(&e->ev, 0, sizeof e->ev);
  e->ev.id = &id.id;
  e->ev.listen_id = listen != nullptr ? &listen->id : nullptr;
  e->ev.event = type;
  e->ev.status = status;
  if (from != nullptr) {
    e->private_data = from->private_data;
    rdma_conn_param& c = e->ev.param.conn;
    c.private_data = e->private_data.empty() ? nullptr : e->private_data.data();
    c.private_data_len = static_cast<uint8_t>(e->private_data.size());
    // As the kernel's CM reports them: from this end's point of view (what the peer issues is what this
    // end must serve).
    c.responder_resources = from->initiator_depth;
    c.initiator_depth = from->responder_resources;
    c.flow_control = 1;
    c.retry_count = from->retry_count;
    c.rnr_retry_count = from->rnr_retry_count;
    c.qp_num = from->qpn;
  }
  ++id.unacked;
  EventChannel* ch = channel_of(id.id.channel);
  {
    std::lock_guard<std::mutex> g(ch->mu);
    ch->queue.push_back(&e->ev);
  }
  const uint64_t one = 1;
  (void)!::write(ch->ch.fd, &one, sizeof one);
}

bool apply(Id& id, cm::Input in, int status, const cm::Message* from, const cm::Message* frame) {
  const std::optional<cm::Step> st = cm::step(id.state, in);
  if (!st) return false;
  id.state = st->next;
  if (st->send && (id.fd >= 0 || id.mad.active)) {
    cm::Message m = frame != nullptr ? *frame : cm::Message{};
    m.type = *st->send;
    send_frame(id, m);
  }
  if (st->event) post(id, *st->event, status, from, in == cm::Input::kGotReq ? id.listener : nullptr);
  return true;
}

cm::Message local_message(const Id& id, cm::Type type) {
  cm::Message m;
  m.type = type;
  const ibv_qp* qp = qp_of(id);
  m.qpn = qp != nullptr ? qp->qp_num : id.own_qpn;
  m.psn = id.psn;
  if (id.id.verbs != nullptr) {
    ibv_gid g{};
    if (ibv_query_gid(id.id.verbs, 1, 0, &g) == 0) std::memcpy(m.gid.data(), g.raw, 16);
    m.path_mtu = active_mtu(id.id.verbs);
  }
  m.responder_resources = id.local.responder_resources;
  m.initiator_depth = id.local.initiator_depth;
  m.retry_count = id.local.retry_count;
  m.rnr_retry_count = id.local.rnr_retry_count;
  return m;
}

ibv_qp* qp_of(const Id& id) { return id.id.qp; }

int connect_qp(Id& id) {
  ibv_qp* qp = qp_of(id);
  cm::QpStep rtr = cm::rtr_attrs(id.peer, id.local, active_mtu(id.id.verbs), id.tos);
  if (ibv_modify_qp(qp, &rtr.attr, rtr.mask) != 0) return errno != 0 ? errno : EINVAL;
  cm::QpStep rts = cm::rts_attrs(id.psn, id.peer, id.local, id.ack_timeout);
  if (ibv_modify_qp(qp, &rts.attr, rts.mask) != 0) return errno != 0 ? errno : EINVAL;
  return 0;
}

udp::Address normalized(const sockaddr* sa) {
  const udp::Address a = udp::Address::from_sockaddr(sa);
  return udp::Address::from_gid(a.gid(), a.port);
}

ibv_context* context_for(const udp::Address& addr) {
  static auto* open = new OpenContexts();  // the CM's contexts live for the process, as librdmacm's do
  for (Device* d : devices()) {
    std::optional<udp::Address> a = d->address;
    if (!a) {
      const std::optional<Netdev> n = read_netdev(d->netdev);
      if (n) a = n->addr;
    }
    if (!a || !a->same_ip(addr)) continue;
    for (auto& [dev, ctx] : open->list)
      if (dev == d) return ctx;
    ibv_context* ctx = ibv_open_device(&d->ibv);
    if (ctx == nullptr) return nullptr;
    open->list.emplace_back(d, ctx);
    return ctx;
  }
  return nullptr;
}

uint8_t active_mtu(ibv_context* ctx) {
  ibv_port_attr a = port_attr(*context_of(ctx)->dev);
  return static_cast<uint8_t>(a.active_mtu);
}

}  // namespace rfab::uverbs::cma
