#include "rdma_netlink.hpp"

#include <linux/netlink.h>
#include <poll.h>
#include <rdma/rdma_netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace rfab::cli {
namespace {

constexpr int kDeadlineMs = 5000;  // rxe's NEWLINK may load modules: give it time, but not forever

void put_attr(std::vector<uint8_t>& m, uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_type = type;
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  const size_t at = m.size();
  m.resize(at + NLA_ALIGN(a.nla_len), 0);
  std::memcpy(m.data() + at, &a, sizeof a);
  std::memcpy(m.data() + at + NLA_HDRLEN, data, len);
}
void put_str(std::vector<uint8_t>& m, uint16_t type, const std::string& s) { put_attr(m, type, s.c_str(), s.size() + 1); }

std::vector<uint8_t> header(uint16_t op, uint16_t flags, uint32_t seq) {
  std::vector<uint8_t> m(NLMSG_HDRLEN, 0);
  nlmsghdr h{};
  h.nlmsg_type = static_cast<uint16_t>(RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op));
  h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  h.nlmsg_seq = seq;
  std::memcpy(m.data(), &h, sizeof h);
  return m;
}

}  // namespace

RdmaNetlink::RdmaNetlink() {
  fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
  if (fd_ < 0) {
    int e = errno;
    throw RdmaNetlinkError(e, std::string("this kernel has no RDMA netlink (") + std::strerror(e) +
                                  "): RDMA support (ib_core) is not loaded or not built; soft-RoCE needs a kernel "
                                  "with CONFIG_INFINIBAND and CONFIG_RDMA_RXE (see tools/softroce-lab)");
  }
}

RdmaNetlink::~RdmaNetlink() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::vector<uint8_t>> RdmaNetlink::transact(std::vector<uint8_t> req, bool dump) {
  auto* h = reinterpret_cast<nlmsghdr*>(req.data());
  h->nlmsg_len = static_cast<uint32_t>(req.size());
  const uint32_t seq = h->nlmsg_seq;
  if (::send(fd_, req.data(), req.size(), 0) < 0)
    throw RdmaNetlinkError(errno, std::string("RDMA netlink send: ") + std::strerror(errno));
  std::vector<std::vector<uint8_t>> out;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
  std::vector<uint8_t> buf(1 << 16);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      throw RdmaNetlinkError(ETIMEDOUT, "RDMA netlink: no answer from the kernel within 5 s");
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) throw RdmaNetlinkError(errno, std::string("RDMA netlink recv: ") + std::strerror(errno));
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type == NLMSG_DONE) return out;
      if (m->nlmsg_type == NLMSG_ERROR) {
        int e = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(m))->error;
        if (e == 0) return out;  // the ACK of a non-dump request
        throw RdmaNetlinkError(e, std::strerror(e));
      }
      const auto* p0 = reinterpret_cast<const uint8_t*>(m);
      out.emplace_back(p0, p0 + m->nlmsg_len);
      if (!dump) return out;
    }
  }
}

std::vector<RdmaDevice> RdmaNetlink::devices() {
  auto msgs = transact(header(RDMA_NLDEV_CMD_GET, NLM_F_DUMP, seq_++), true);
  std::vector<RdmaDevice> out;
  for (const auto& m : msgs) {
    RdmaDevice d;
    int len = static_cast<int>(m.size()) - NLMSG_HDRLEN;
    for (auto* a = reinterpret_cast<const nlattr*>(m.data() + NLMSG_HDRLEN);
         len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
         len -= NLA_ALIGN(a->nla_len), a = reinterpret_cast<const nlattr*>(reinterpret_cast<const uint8_t*>(a) +
                                                                              NLA_ALIGN(a->nla_len))) {
      const auto* data = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
      const size_t dlen = a->nla_len - NLA_HDRLEN;
      if (a->nla_type == RDMA_NLDEV_ATTR_DEV_INDEX && dlen >= 4) std::memcpy(&d.index, data, 4);
      if (a->nla_type == RDMA_NLDEV_ATTR_DEV_NAME) d.name.assign(data, strnlen(data, dlen));
    }
    out.push_back(d);
  }
  return out;
}

void RdmaNetlink::new_link(const std::string& name, const std::string& type, const std::string& netdev) {
  auto m = header(RDMA_NLDEV_CMD_NEWLINK, NLM_F_ACK, seq_++);
  put_str(m, RDMA_NLDEV_ATTR_DEV_NAME, name);
  put_str(m, RDMA_NLDEV_ATTR_LINK_TYPE, type);
  put_str(m, RDMA_NLDEV_ATTR_NDEV_NAME, netdev);
  try {
    transact(std::move(m), false);
  } catch (const RdmaNetlinkError& e) {
    std::string why = e.what();
    // The kernel answers EINVAL when no driver registered this link type and none could be loaded.
    if (e.err == EINVAL)
      why = "the kernel has no '" + type + "' link type (rdma_" + type + " not loaded or not built), or " +
            netdev + " is unusable";
    else if (e.err == EEXIST)
      why = "an RDMA device named " + name + " already exists";
    else if (e.err == ENODEV)
      why = "no network device " + netdev;
    throw RdmaNetlinkError(e.err, "rdma link add " + name + " type " + type + " netdev " + netdev + ": " + why);
  }
}

void RdmaNetlink::del_link(uint32_t index) {
  auto m = header(RDMA_NLDEV_CMD_DELLINK, NLM_F_ACK, seq_++);
  put_attr(m, RDMA_NLDEV_ATTR_DEV_INDEX, &index, sizeof index);
  try {
    transact(std::move(m), false);
  } catch (const RdmaNetlinkError& e) {
    throw RdmaNetlinkError(e.err, "rdma link delete (device index " + std::to_string(index) + "): " + e.what() +
                                      (e.err == EOPNOTSUPP ? " (not a software device: only rxe/siw links can "
                                                             "be deleted)" : ""));
  }
}

}  // namespace rfab::cli
