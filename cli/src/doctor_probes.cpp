#include "doctor_probes.hpp"

#include <arpa/inet.h>
#include <linux/dcbnl.h>
#include <linux/errqueue.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "rfab/udp/address.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/wire_icrc.hpp"
#include "rfab/wire/packet.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace rfab::cli::doctor {
namespace {

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Waits until `fd` is readable or `until` passes.
bool wait_readable(int fd, Clock::time_point until) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// Encodes one RoCE v2 packet (transport part + ICRC for the real headers) from `src` to `dst`.
std::vector<uint8_t> build_packet(const wire::RoceFields& f, std::span<const uint8_t> payload,
                                  const udp::Address& src, const udp::Address& dst) {
  std::vector<uint8_t> buf(wire::roce_encoded_len(f.bth.opcode, payload.size()));
  auto n = wire::encode_roce(f, payload, buf);
  if (!n) throw std::runtime_error("encode: " + n.error().message());
  buf.resize(*n);
  udp::fill_icrc(src, dst, 0, buf);  // unconnected DF socket: the kernel writes IPv4 ID 0
  return buf;
}

std::optional<std::string> read_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  if (!in || !std::getline(in, s)) return std::nullopt;
  return s;
}

// PFC enable bitmap of `ifname` from DCB netlink; nullopt with `why` set when not visible.
std::optional<uint8_t> dcb_pfc_enabled(const std::string& ifname, std::string& why) {
  Fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (s.fd < 0) {
    why = std::string("netlink socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  alignas(nlmsghdr) uint8_t req[256]{};
  auto* nh = reinterpret_cast<nlmsghdr*>(req);
  nh->nlmsg_type = RTM_GETDCB;
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = 1;
  auto* dcb = reinterpret_cast<dcbmsg*>(NLMSG_DATA(nh));
  dcb->dcb_family = AF_UNSPEC;
  dcb->cmd = DCB_CMD_IEEE_GET;
  auto* rta = reinterpret_cast<rtattr*>(req + NLMSG_LENGTH(sizeof(dcbmsg)));
  rta->rta_type = DCB_ATTR_IFNAME;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(ifname.size() + 1));
  std::memcpy(RTA_DATA(rta), ifname.c_str(), ifname.size() + 1);
  nh->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(sizeof(dcbmsg)) + RTA_ALIGN(rta->rta_len));
  if (::send(s.fd, req, nh->nlmsg_len, 0) < 0) {
    why = std::string("netlink send: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (!wait_readable(s.fd, Clock::now() + std::chrono::milliseconds(500))) {
    why = "no DCB netlink answer";
    return std::nullopt;
  }
  alignas(nlmsghdr) uint8_t resp[8192];
  ssize_t n = ::recv(s.fd, resp, sizeof resp, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) {
    why = "short DCB netlink answer";
    return std::nullopt;
  }
  auto* rh = reinterpret_cast<nlmsghdr*>(resp);
  if (rh->nlmsg_type == NLMSG_ERROR) {
    int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(rh))->error;
    why = err == EOPNOTSUPP ? "the netdev has no DCB support" : std::string("DCB: ") + std::strerror(err);
    return std::nullopt;
  }
  int len = static_cast<int>(rh->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(sizeof(dcbmsg)));
  for (auto* a = reinterpret_cast<rtattr*>(static_cast<uint8_t*>(NLMSG_DATA(rh)) + NLMSG_ALIGN(sizeof(dcbmsg)));
       RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type != DCB_ATTR_IEEE) continue;
    int inner = static_cast<int>(RTA_PAYLOAD(a));
    for (auto* b = static_cast<rtattr*>(RTA_DATA(a)); RTA_OK(b, inner); b = RTA_NEXT(b, inner)) {
      if (b->rta_type == DCB_ATTR_IEEE_PFC && RTA_PAYLOAD(b) >= sizeof(ieee_pfc))
        return static_cast<const ieee_pfc*>(RTA_DATA(b))->pfc_en;
    }
  }
  why = "DCB answer without IEEE PFC settings";
  return std::nullopt;
}

std::string prio_list(uint8_t bits) {
  std::string s;
  for (int i = 0; i < 8; ++i)
    if (bits & (1u << i)) s += (s.empty() ? "" : ",") + std::to_string(i);
  return s;
}

}  // namespace

Check probe_rxe_kernel(const std::string& sys_root, const std::string& modules_root) {
  Check c{"kernel soft-RoCE", Verdict::pass, "", ""};
  if (fs::exists(fs::path(sys_root) / "module" / "rdma_rxe")) {
    c.detail = "rdma_rxe is loaded";
    c.hint = "";
    return c;
  }
  utsname u{};
  ::uname(&u);
  const fs::path mods = fs::path(modules_root) / u.release;
  std::error_code ec;
  if (auto builtin = read_line(mods / "modules.builtin"); builtin) {
    std::ifstream in(mods / "modules.builtin");
    for (std::string l; std::getline(in, l);)
      if (l.find("/rdma_rxe.ko") != std::string::npos) {
        c.detail = "rdma_rxe is built into kernel " + std::string(u.release);
        return c;
      }
  }
  for (const char* ext : {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
    if (fs::exists(mods / "kernel/drivers/infiniband/sw/rxe" / (std::string("rdma_rxe") + ext), ec)) {
      c.detail = "rdma_rxe module available for kernel " + std::string(u.release) + " (not loaded)";
      c.hint = "`modprobe rdma_rxe` then `rfab softroce up IFACE` gives a kernel RoCE device";
      return c;
    }
  }
  c.verdict = Verdict::warn;
  c.detail = "kernel " + std::string(u.release) + " has no rdma_rxe (not loaded, not in " + mods.string() + ")";
  c.hint = "use rfab's user-space RoCE, or a kernel with CONFIG_RDMA_RXE (see tools/softroce-lab for a qemu lab)";
  return c;
}

Check probe_peer_udp(const std::string& peer, std::chrono::milliseconds deadline) {
  Check c{"peer " + peer + " udp/4791", Verdict::pass, "", ""};
  auto dst = udp::Address::parse(peer, wire::kRoceV2Port);
  if (!dst) {
    c.verdict = Verdict::fail;
    c.detail = "'" + peer + "' is not a numeric IPv4 or IPv6 address";
    c.hint = "give peers as addresses, e.g. --peers 10.0.0.2,10.0.0.3";
    return c;
  }
  // An unconnected DF socket, like the datapath's: the kernel then writes IPv4 ID 0, so the probe's ICRC is
  // right on the wire (a connected socket picks an unpredictable ID). ICMP errors come back on the error queue.
  udp::UdpSocket s;
  try {
    udp::SocketOptions opt;
    opt.gro = false;
    s = udp::UdpSocket::bind(udp::source_address_for(*dst).with_port(0), opt);
  } catch (const std::exception& e) {
    c.verdict = Verdict::fail;
    c.detail = std::string("no route: ") + e.what();
    c.hint = "add a route/address on the RoCE interface towards " + peer;
    return c;
  }
  int on = 1;
  if (dst->v6) ::setsockopt(s.fd(), IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
  else ::setsockopt(s.fd(), IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  wire::RoceFields ack{};
  ack.bth.opcode = 0x11;
  ack.bth.dest_qp = 0xFFFFFE;  // no such QP: a RoCE stack drops it without side effects
  ack.aeth.syndrome = wire::Aeth::make(wire::AckType::ack, 0x1F);
  const auto pkt = build_packet(ack, {}, s.local(), *dst);

  const auto until = Clock::now() + deadline;
  int err = 0;
  for (int attempt = 0; attempt < 3 && err == 0; ++attempt) {
    sockaddr_storage ss{};
    const socklen_t sl = dst->to_sockaddr(ss);
    if (::sendto(s.fd(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl) < 0) {
      err = errno;  // e.g. EHOSTUNREACH reported at once for a neighbour that never answered ARP
      break;
    }
    const auto slice = std::min(until, Clock::now() + deadline / 3);
    for (;;) {  // wait out the slice unless an ICMP error arrives
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(slice - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{s.fd(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      if (p.revents & POLLERR) {
        alignas(cmsghdr) char ctl[512];
        uint8_t data[2048];
        iovec iov{data, sizeof data};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        if (::recvmsg(s.fd(), &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0)
          for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if ((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
                (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR))
              err = static_cast<int>(reinterpret_cast<const sock_extended_err*>(CMSG_DATA(cm))->ee_errno);
        if (err) break;
      } else if (p.revents & POLLIN) {
        uint8_t buf[2048];
        (void)::recv(s.fd(), buf, sizeof buf, MSG_DONTWAIT);  // an answer: the port is open
      }
    }
  }
  if (err == ECONNREFUSED) {
    c.verdict = Verdict::fail;
    c.detail = "ICMP port unreachable: nothing listens on UDP 4791 at " + peer;
    c.hint = "the peer has no RoCE device (or rxe) on that address and no rfab endpoint running";
  } else if (err != 0) {
    c.verdict = Verdict::fail;
    c.detail = std::string("unreachable: ") + std::strerror(err);
    c.hint = "no ARP/ND answer or no route: check addresses, VLAN and cabling towards " + peer;
  } else {
    c.detail = "UDP 4791 open from " + s.local().ip_string() + " (probes accepted, no ICMP error)";
  }
  return c;
}

Check probe_qos(const PortInfo& p, const std::string& sys_root) {
  Check c{"qos " + p.device + "/" + std::to_string(p.port), Verdict::pass, "", ""};
  if (p.netdev.empty()) {
    c.verdict = Verdict::skip;
    c.detail = "no netdev for this port";
    return c;
  }
  std::vector<std::string> seen;
  bool ecn_on = false;
  const fs::path ecn = fs::path(sys_root) / "class/net" / p.netdev / "ecn";
  for (const char* role : {"roce_np", "roce_rp"}) {
    std::string on;
    for (int prio = 0; prio < 8; ++prio)
      if (auto v = read_line(ecn / role / "enable" / std::to_string(prio)); v && *v == "1")
        on += (on.empty() ? "" : ",") + std::to_string(prio);
    if (!on.empty()) {
      ecn_on = true;
      seen.push_back(std::string("ECN ") + role + " on prio " + on);
    }
  }
  const fs::path tos = fs::path(sys_root) / "kernel/config/rdma_cm" / p.device / "ports" /
                       std::to_string(p.port) / "default_roce_tos";
  if (auto t = read_line(tos)) {
    int v = std::atoi(t->c_str());
    seen.push_back("rdma_cm ToS " + *t + " (DSCP " + std::to_string(v >> 2) + ", ECN bits " + std::to_string(v & 3) + ")");
  }
  std::string why;
  auto pfc = dcb_pfc_enabled(p.netdev, why);
  if (pfc) seen.push_back(*pfc ? "PFC on prio " + prio_list(*pfc) : "PFC off on every priority");
  else seen.push_back("PFC not visible (" + why + ")");
  for (size_t i = 0; i < seen.size(); ++i) c.detail += (i ? "; " : "") + seen[i];
  if (!ecn_on && !(pfc && *pfc)) {
    c.verdict = Verdict::warn;
    c.hint = "neither PFC nor ECN is visibly enabled on " + p.netdev +
             ": RoCE will be lossy under congestion (enable PFC on the RoCE priority, e.g. `dcb pfc set dev " +
             p.netdev + " prio-pfc 3:on`, and ECN/DCQCN)";
  }
  return c;
}

}  // namespace rfab::cli::doctor
