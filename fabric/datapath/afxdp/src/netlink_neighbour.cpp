// The next hop's MAC from the kernel (rtnetlink): RTM_GETROUTE for the route to the peer (outgoing
// interface, gateway), an RTM_GETNEIGH dump for the neighbour entry of the next hop. The AF_XDP datapath
// shares its interface with the kernel, so the kernel's ARP/NDP keeps these tables; we only read them.
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "rfab/afxdp/afxdp.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::afxdp {
namespace {

class Netlink {
 public:
  Netlink() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) frame::throw_errno("netlink socket", errno);
    timeval tv{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Netlink() { ::close(fd_); }
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Sends `req` and calls `on_msg` for every answer until DONE (dumps) or the single answer / error.
  template <typename F>
  void transact(nlmsghdr* req, F on_msg) {
    req->nlmsg_seq = ++seq_;
    if (::send(fd_, req, req->nlmsg_len, 0) < 0) frame::throw_errno("netlink send", errno);
    const bool dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    std::vector<char> buf(32768);
    for (;;) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n < 0) frame::throw_errno("netlink receive", errno);
      auto len = static_cast<unsigned>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_seq != seq_) continue;
        if (h->nlmsg_type == NLMSG_DONE) return;
        if (h->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0) throw frame::FrameError(std::string("netlink: ") + std::strerror(-e->error));
          return;
        }
        on_msg(h);
        if (!dump) return;
      }
    }
  }

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

void add_attr(nlmsghdr* h, unsigned short type, const void* data, size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(h) + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

struct Route {
  int oif = 0;
  udp::Address next_hop;  // the gateway, or the peer itself when it is on the link
};

Route route_to(Netlink& nl, const udp::Address& peer) {
  struct {
    nlmsghdr h;
    rtmsg r;
    char attrs[64];
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.h.nlmsg_type = RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.r.rtm_family = peer.v6 ? AF_INET6 : AF_INET;
  req.r.rtm_dst_len = peer.v6 ? 128 : 32;
  add_attr(&req.h, RTA_DST, peer.ip.data(), peer.ip_len());
  Route route;
  route.next_hop = peer.with_port(0);
  bool found = false;
  nl.transact(&req.h, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE) return;
    found = true;
    auto* r = static_cast<rtmsg*>(NLMSG_DATA(h));
    int len = static_cast<int>(RTM_PAYLOAD(h));
    for (auto* a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == RTA_OIF) std::memcpy(&route.oif, RTA_DATA(a), sizeof(int));
      if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == peer.ip_len()) {
        route.next_hop = udp::Address{};
        route.next_hop.v6 = peer.v6;
        std::memcpy(route.next_hop.ip.data(), RTA_DATA(a), peer.ip_len());
      }
    }
  });
  if (!found) throw frame::FrameError("no route to " + peer.ip_string());
  return route;
}

std::optional<frame::Mac> neighbour_mac(Netlink& nl, int ifindex, const udp::Address& ip) {
  struct {
    nlmsghdr h;
    ndmsg n;
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  req.h.nlmsg_type = RTM_GETNEIGH;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.n.ndm_family = ip.v6 ? AF_INET6 : AF_INET;
  std::optional<frame::Mac> mac;
  constexpr unsigned kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
  nl.transact(&req.h, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH || mac) return;
    auto* n = static_cast<ndmsg*>(NLMSG_DATA(h));
    if (n->ndm_ifindex != ifindex || (n->ndm_state & kUsable) == 0) return;
    int len = static_cast<int>(NLMSG_PAYLOAD(h, sizeof(ndmsg)));
    bool match = false;
    std::optional<frame::Mac> lladdr;
    for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(n) + NLMSG_ALIGN(sizeof(ndmsg))); RTA_OK(a, len);
         a = RTA_NEXT(a, len)) {
      if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == ip.ip_len())
        match = std::memcmp(RTA_DATA(a), ip.ip.data(), ip.ip_len()) == 0;
      if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
        frame::Mac m;
        std::memcpy(m.b.data(), RTA_DATA(a), 6);
        lladdr = m;
      }
    }
    if (match && lladdr) mac = lladdr;
  });
  return mac;
}

// One datagram to the discard port of the next hop: the kernel resolves its neighbour before it can send.
void provoke_resolution(const udp::Address& next_hop, const std::string& iface) {
  const int fd = ::socket(next_hop.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface.c_str(), static_cast<socklen_t>(iface.size()));
  sockaddr_storage ss;
  const socklen_t sl = next_hop.with_port(9).to_sockaddr(ss);
  const char byte = 0;
  (void)::sendto(fd, &byte, 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), sl);
  ::close(fd);
}

Nanos mono_now() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000ull + static_cast<Nanos>(ts.tv_nsec);
}

}  // namespace

frame::Mac kernel_next_hop_mac(int ifindex, const std::string& iface, const udp::Address& peer, Nanos timeout) {
  Netlink nl;
  const Route route = route_to(nl, peer);
  if (route.oif != ifindex) {
    char name[IF_NAMESIZE + 1] = "?";
    (void)::if_indextoname(static_cast<unsigned>(route.oif), name);
    throw frame::FrameError("the route to " + peer.ip_string() + " leaves by " + name + ", not by " + iface +
                            ", the AF_XDP interface");
  }
  const Nanos deadline = mono_now() + timeout;
  Nanos next_probe = 0;
  for (;;) {
    if (auto mac = neighbour_mac(nl, ifindex, route.next_hop)) return *mac;
    const Nanos t = mono_now();
    if (t >= deadline)
      throw frame::FrameError("the kernel has no neighbour entry for " + route.next_hop.ip_string() + " on " + iface +
                              " (no ARP/NDP answer within " + std::to_string(timeout / 1'000'000) + " ms)");
    if (t >= next_probe) {
      provoke_resolution(route.next_hop, iface);
      next_probe = t + 500'000'000;
    }
    timespec ts{0, 10'000'000};
    ::nanosleep(&ts, nullptr);
  }
}

}  // namespace rfab::afxdp
