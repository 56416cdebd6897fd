// librdmacm's entry points for everything before a connection: event channels and events, ids,
// addresses (bind, listen, resolve), rdma_getaddrinfo, options and queries. Connections themselves are in
// rdmacm_connect.cpp; the side channels are watched by rdmacm_service.cpp.
#include <netdb.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <string>
#include <cstdlib>
#include <cstring>
#include <random>

#include "cma.hpp"
#include "provider.hpp"

using namespace rfab;
using namespace rfab::uverbs;
using namespace rfab::uverbs::cma;

namespace {

socklen_t sockaddr_len(const sockaddr* sa) {
  return sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

bool is_wildcard(const udp::Address& a) {
  for (uint8_t b : a.ip)
    if (b != 0) return false;
  return true;
}

void free_id(Id* id) { delete id; }

}  // namespace

RFAB_VERBS_API rdma_event_channel* rdma_create_event_channel() {
  if (devices().empty()) {
    errno = ENODEV;
    return nullptr;
  }
  auto* c = new EventChannel();
  c->ch.fd = ::eventfd(0, EFD_SEMAPHORE | EFD_CLOEXEC);
  if (c->ch.fd < 0) {
    delete c;
    return nullptr;
  }
  return &c->ch;
}

RFAB_VERBS_API void rdma_destroy_event_channel(rdma_event_channel* channel) {
  if (channel == nullptr) return;
  EventChannel* c = channel_of(channel);
  ::close(c->ch.fd);
  for (rdma_cm_event* e : c->queue) delete reinterpret_cast<Event*>(e);
  delete c;
}

RFAB_VERBS_API int rdma_create_id(rdma_event_channel* channel, rdma_cm_id** out, void* context,
                                  rdma_port_space ps) {
  if (out == nullptr) return fail_cm(EINVAL, "rdma_create_id: id is null");
  if (ps != RDMA_PS_TCP && ps != RDMA_PS_IB)
    return fail_cm(EOPNOTSUPP, "rdma_create_id: only connected (RDMA_PS_TCP, RDMA_PS_IB) ids are supported");
  if (channel == nullptr) {
    // librdmacm's synchronous mode: an id with a channel of its own. Calls here stay asynchronous.
    channel = rdma_create_event_channel();
    if (channel == nullptr) return -1;
  }
  auto* id = new Id();
  std::memset(&id->id, 0, sizeof id->id);
  id->id.channel = channel;
  id->id.context = context;
  id->id.ps = ps;
  id->id.qp_type = IBV_QPT_RC;
  std::random_device rd;
  id->psn = rd() & 0xffffff;
  std::lock_guard<std::mutex> g(lock());
  register_id(*id);
  *out = &id->id;
  return no_error();
}

RFAB_VERBS_API int rdma_destroy_id(rdma_cm_id* cm_id) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_destroy_id: id is null");
  std::unique_lock<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  // As librdmacm: the call waits until the program has acknowledged the id's events, so a thread still
  // handling one (rping's CM thread with its DISCONNECTED) finishes before the program tears the channel
  // down. Bounded, so a program that destroys an id while it holds one of its events does not hang.
  acked().wait_for(g, std::chrono::seconds(1), [id] { return id->unacked == 0; });
  if (id->state == cm::State::kListening) {
    // Connections accepted and not yet requested die with their listener.
    std::vector<Id*> orphans;
    for_each_id([&](Id& other) {
      if (other.listener == id) {
        if (!other.visible) orphans.push_back(&other);
        other.listener = nullptr;
      }
    });
    for (Id* o : orphans) {
      unregister_id(*o);
      delete o;
    }
  }
  // Closing the side channel is what the peer sees as this end going away (DISCONNECTED there).
  unregister_id(*id);
  id->destroyed = true;
  if (id->unacked == 0) free_id(id);
  return no_error();
}

RFAB_VERBS_API int rdma_migrate_id(rdma_cm_id* cm_id, rdma_event_channel* channel) {
  if (cm_id == nullptr || channel == nullptr) return fail_cm(EINVAL, "rdma_migrate_id: id or channel is null");
  std::lock_guard<std::mutex> g(lock());
  cm_id->channel = channel;  // events already queued stay on the old channel
  return no_error();
}

RFAB_VERBS_API int rdma_bind_addr(rdma_cm_id* cm_id, sockaddr* addr) {
  if (cm_id == nullptr || addr == nullptr) return fail_cm(EINVAL, "rdma_bind_addr: id or address is null");
  if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
    return fail_cm(EAFNOSUPPORT, "rdma_bind_addr: only IPv4 and IPv6 addresses");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  const udp::Address a = normalized(addr);
  ibv_context* ctx = nullptr;
  if (!is_wildcard(a)) {
    ctx = context_for(a);
    if (ctx == nullptr)
      return fail_cm(EADDRNOTAVAIL, "rdma_bind_addr: no rfab device owns " + a.ip_string() +
                                        " (RFAB_VERBS_IFACE chooses the interfaces)");
  }
  if (!apply(*id, cm::Input::kBind)) return fail_cm(EINVAL, std::string("rdma_bind_addr: id is ") + cm::state_name(id->state));
  std::memcpy(&cm_id->route.addr.src_storage, addr, sockaddr_len(addr));
  cm_id->verbs = ctx;
  cm_id->port_num = ctx != nullptr ? 1 : 0;
  if (ctx != nullptr) {
    ibv_gid gid{};
    if (ibv_query_gid(ctx, 1, 0, &gid) == 0) cm_id->route.addr.addr.ibaddr.sgid = gid;
    cm_id->route.addr.addr.ibaddr.pkey = htons(0xffff);
  }
  return no_error();
}

RFAB_VERBS_API int rdma_listen(rdma_cm_id* cm_id, int backlog) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_listen: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->state != cm::State::kBound)
    return fail_cm(EINVAL, std::string("rdma_listen: id is ") + cm::state_name(id->state) + ", not bound");
  sockaddr* sa = &cm_id->route.addr.src_addr;
  const int fd = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_cm(errno, std::string("rdma_listen: socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, sa, sockaddr_len(sa)) != 0 || ::listen(fd, backlog > 0 ? backlog : 128) != 0) {
    const int err = errno;
    ::close(fd);
    return fail_cm(err, "rdma_listen on " + normalized(sa).to_string() + ": " + std::strerror(err));
  }
  socklen_t len = sizeof cm_id->route.addr.src_storage;
  ::getsockname(fd, sa, &len);  // the port chosen when the program bound port 0
  id->fd = fd;
  apply(*id, cm::Input::kListen);
  watch(*id, EPOLLIN);
  return no_error();
}

RFAB_VERBS_API int rdma_resolve_addr(rdma_cm_id* cm_id, sockaddr* src, sockaddr* dst, int) {
  if (cm_id == nullptr || dst == nullptr) return fail_cm(EINVAL, "rdma_resolve_addr: id or destination is null");
  if (dst->sa_family != AF_INET && dst->sa_family != AF_INET6)
    return fail_cm(EAFNOSUPPORT, "rdma_resolve_addr: only IPv4 and IPv6 destinations");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->state != cm::State::kIdle && id->state != cm::State::kBound)
    return fail_cm(EINVAL, std::string("rdma_resolve_addr: id is ") + cm::state_name(id->state));
  const udp::Address to = normalized(dst);
  udp::Address from;
  if (src != nullptr && !is_wildcard(normalized(src))) {
    from = normalized(src);
  } else if (id->state == cm::State::kBound && !is_wildcard(normalized(&cm_id->route.addr.src_addr))) {
    from = normalized(&cm_id->route.addr.src_addr);
  } else if (context_for(to) != nullptr) {
    // A destination on one of this process's devices: the connection loops back through that device,
    // from the destination address itself, as the kernel's CM resolves a local destination.
    from = to;
  } else {
    try {
      from = udp::source_address_for(to);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rfab-verbs: rdma_cm: rdma_resolve_addr %s: %s\n", to.ip_string().c_str(), e.what());
      apply(*id, cm::Input::kAddrError, -ENETUNREACH);
      return no_error();
    }
  }
  ibv_context* ctx = context_for(from);
  if (ctx == nullptr) {
    std::fprintf(stderr, "rfab-verbs: rdma_cm: rdma_resolve_addr %s: the source address %s is on no rfab device\n",
                 to.ip_string().c_str(), from.ip_string().c_str());
    apply(*id, cm::Input::kAddrError, -ENODEV);
    return no_error();
  }
  from.port = 0;
  from.to_sockaddr(cm_id->route.addr.src_storage);
  std::memcpy(&cm_id->route.addr.dst_storage, dst, sockaddr_len(dst));
  cm_id->verbs = ctx;
  cm_id->port_num = 1;
  ibv_gid gid{};
  if (ibv_query_gid(ctx, 1, 0, &gid) == 0) cm_id->route.addr.addr.ibaddr.sgid = gid;
  const udp::Gid dg = to.gid();
  std::memcpy(cm_id->route.addr.addr.ibaddr.dgid.raw, dg.data(), 16);
  cm_id->route.addr.addr.ibaddr.pkey = htons(0xffff);
  apply(*id, cm::Input::kAddrResolved);
  return no_error();
}

RFAB_VERBS_API int rdma_resolve_route(rdma_cm_id* cm_id, int) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_resolve_route: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (id->state != cm::State::kAddrResolved)
    return fail_cm(EINVAL, std::string("rdma_resolve_route: id is ") + cm::state_name(id->state) +
                               ", not address resolved");
  ibv_sa_path_rec& p = id->path;
  std::memset(&p, 0, sizeof p);
  p.sgid = cm_id->route.addr.addr.ibaddr.sgid;
  p.dgid = cm_id->route.addr.addr.ibaddr.dgid;
  p.pkey = htons(0xffff);
  p.mtu = active_mtu(cm_id->verbs);
  p.hop_limit = 64;
  p.traffic_class = id->tos;
  p.reversible = 1;
  p.numb_path = 1;
  cm_id->route.path_rec = &p;
  cm_id->route.num_paths = 1;
  apply(*id, cm::Input::kResolveRoute);
  return no_error();
}

RFAB_VERBS_API int rdma_get_cm_event(rdma_event_channel* channel, rdma_cm_event** event) {
  if (channel == nullptr || event == nullptr) return fail_cm(EINVAL, "rdma_get_cm_event: channel or event is null");
  EventChannel* c = channel_of(channel);
  uint64_t n = 0;
  // Blocks (unless the program made the fd non-blocking: EAGAIN) until an event is queued.
  if (::read(c->ch.fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return -1;
  std::lock_guard<std::mutex> g(c->mu);
  if (c->queue.empty()) {
    errno = EAGAIN;
    return -1;
  }
  *event = c->queue.front();
  c->queue.pop_front();
  return no_error();
}

RFAB_VERBS_API int rdma_ack_cm_event(rdma_cm_event* event) {
  if (event == nullptr) return fail_cm(EINVAL, "rdma_ack_cm_event: event is null");
  Event* e = reinterpret_cast<Event*>(event);
  {
    std::lock_guard<std::mutex> g(lock());
    Id* id = id_of(event->id);
    if (--id->unacked == 0 && id->destroyed) free_id(id);
    acked().notify_all();
  }
  delete e;
  return no_error();
}

RFAB_VERBS_API const char* rdma_event_str(rdma_cm_event_type event) {
  static const char* const names[] = {
      "RDMA_CM_EVENT_ADDR_RESOLVED",    "RDMA_CM_EVENT_ADDR_ERROR",       "RDMA_CM_EVENT_ROUTE_RESOLVED",
      "RDMA_CM_EVENT_ROUTE_ERROR",      "RDMA_CM_EVENT_CONNECT_REQUEST",  "RDMA_CM_EVENT_CONNECT_RESPONSE",
      "RDMA_CM_EVENT_CONNECT_ERROR",    "RDMA_CM_EVENT_UNREACHABLE",      "RDMA_CM_EVENT_REJECTED",
      "RDMA_CM_EVENT_ESTABLISHED",      "RDMA_CM_EVENT_DISCONNECTED",     "RDMA_CM_EVENT_DEVICE_REMOVAL",
      "RDMA_CM_EVENT_MULTICAST_JOIN",   "RDMA_CM_EVENT_MULTICAST_ERROR",  "RDMA_CM_EVENT_ADDR_CHANGE",
      "RDMA_CM_EVENT_TIMEWAIT_EXIT"};
  const auto i = static_cast<size_t>(event);
  return i < sizeof names / sizeof names[0] ? names[i] : "UNKNOWN EVENT";
}

RFAB_VERBS_API int rdma_set_option(rdma_cm_id* cm_id, int level, int optname, void* optval, size_t optlen) {
  if (cm_id == nullptr) return fail_cm(EINVAL, "rdma_set_option: id is null");
  std::lock_guard<std::mutex> g(lock());
  Id* id = id_of(cm_id);
  if (level == RDMA_OPTION_ID) {
    switch (optname) {
      case RDMA_OPTION_ID_TOS:
        if (optval == nullptr || optlen < 1) break;
        id->tos = *static_cast<uint8_t*>(optval);
        return no_error();
      case RDMA_OPTION_ID_ACK_TIMEOUT:
        if (optval == nullptr || optlen < 1) break;
        id->ack_timeout = std::min<uint8_t>(*static_cast<uint8_t*>(optval), 31);
        return no_error();
      case RDMA_OPTION_ID_REUSEADDR:  // the TCP listener always reuses its address
      case RDMA_OPTION_ID_AFONLY:
        return no_error();
      default:
        break;
    }
  }
  return fail_cm(ENOSYS, "rdma_set_option: level " + std::to_string(level) + " option " + std::to_string(optname) +
                             " is not supported");
}

RFAB_VERBS_API __be16 rdma_get_src_port(rdma_cm_id* cm_id) {
  const sockaddr* sa = &cm_id->route.addr.src_addr;
  return sa->sa_family == AF_INET6 ? cm_id->route.addr.src_sin6.sin6_port : cm_id->route.addr.src_sin.sin_port;
}

RFAB_VERBS_API __be16 rdma_get_dst_port(rdma_cm_id* cm_id) {
  const sockaddr* sa = &cm_id->route.addr.dst_addr;
  return sa->sa_family == AF_INET6 ? cm_id->route.addr.dst_sin6.sin6_port : cm_id->route.addr.dst_sin.sin_port;
}

RFAB_VERBS_API ibv_context** rdma_get_devices(int* num_devices) {
  std::vector<ibv_context*> out;
  {
    std::lock_guard<std::mutex> g(lock());
    for (Device* d : devices()) {
      std::optional<udp::Address> a = d->address;
      if (!a) {
        const std::optional<Netdev> n = read_netdev(d->netdev);
        if (n) a = n->addr;
      }
      if (!a) continue;
      if (ibv_context* c = context_for(*a)) out.push_back(c);
    }
  }
  auto** list = static_cast<ibv_context**>(std::calloc(out.size() + 1, sizeof(ibv_context*)));
  if (list == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  for (size_t i = 0; i < out.size(); ++i) list[i] = out[i];
  if (num_devices != nullptr) *num_devices = static_cast<int>(out.size());
  return list;
}

RFAB_VERBS_API void rdma_free_devices(ibv_context** list) { std::free(list); }

// rdma_getaddrinfo for IP addresses and host names (no InfiniBand path records, no rsockets): the
// resolved address is the destination, or with RAI_PASSIVE the source to bind.
RFAB_VERBS_API int rdma_getaddrinfo(const char* node, const char* service, const rdma_addrinfo* hints,
                                    rdma_addrinfo** res) {
  if (res == nullptr) return EAI_FAIL;
  addrinfo h{};
  h.ai_socktype = SOCK_STREAM;
  const int flags = hints != nullptr ? hints->ai_flags : 0;
  if (flags & RAI_PASSIVE) h.ai_flags |= AI_PASSIVE;
  if (flags & RAI_NUMERICHOST) h.ai_flags |= AI_NUMERICHOST;
  if (hints != nullptr) h.ai_family = hints->ai_family;
  addrinfo* ai = nullptr;
  if (node != nullptr || service != nullptr) {
    const int r = ::getaddrinfo(node, service, &h, &ai);
    if (r != 0) return r;
  }
  auto* out = static_cast<rdma_addrinfo*>(std::calloc(1, sizeof(rdma_addrinfo)));
  out->ai_flags = flags;
  out->ai_qp_type = hints != nullptr && hints->ai_qp_type != 0 ? hints->ai_qp_type : IBV_QPT_RC;
  out->ai_port_space = hints != nullptr && hints->ai_port_space != 0 ? hints->ai_port_space : RDMA_PS_TCP;
  auto copy = [](const sockaddr* sa, socklen_t len) {
    auto* p = static_cast<sockaddr*>(std::malloc(len));
    std::memcpy(p, sa, len);
    return p;
  };
  if (ai != nullptr) {
    out->ai_family = ai->ai_family;
    if (flags & RAI_PASSIVE) {
      out->ai_src_addr = copy(ai->ai_addr, ai->ai_addrlen);
      out->ai_src_len = ai->ai_addrlen;
    } else {
      out->ai_dst_addr = copy(ai->ai_addr, ai->ai_addrlen);
      out->ai_dst_len = ai->ai_addrlen;
    }
    ::freeaddrinfo(ai);
  }
  if (!(flags & RAI_PASSIVE) && hints != nullptr && hints->ai_src_addr != nullptr && hints->ai_src_len > 0) {
    out->ai_src_addr = copy(hints->ai_src_addr, hints->ai_src_len);
    out->ai_src_len = hints->ai_src_len;
  }
  *res = out;
  return 0;
}

RFAB_VERBS_API void rdma_freeaddrinfo(rdma_addrinfo* res) {
  while (res != nullptr) {
    rdma_addrinfo* next = res->ai_next;
    std::free(res->ai_src_addr);
    std::free(res->ai_dst_addr);
    std::free(res->ai_src_canonname);
    std::free(res->ai_dst_canonname);
    std::free(res->ai_route);
    std::free(res->ai_connect);
    std::free(res);
    res = next;
  }
}

// rsockets are not provided; rpoll on ordinary descriptors (rping polls its event channel with it) is poll.
RFAB_VERBS_API int rpoll(pollfd* fds, nfds_t nfds, int timeout) { return ::poll(fds, nfds, timeout); }
