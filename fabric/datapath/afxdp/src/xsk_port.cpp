// FramePort over AF_XDP: one XSK socket per receive queue, each with its own UMEM whose frames are split
// between receiving (kept on the fill ring) and transmitting (a free list, refilled from the completion
// ring). Frames leave on the first queue's socket. Wakeups follow the rings' need-wakeup flags.
#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "rfab/afxdp/afxdp.hpp"
#include "rfab/frame/error.hpp"
#include "xdp_steering.hpp"

namespace rfab::afxdp {
namespace {

constexpr uint32_t kFrameSize = 4096;          // one page: the largest aligned-mode chunk
constexpr uint32_t kKernelHeadroom = 256;      // XDP_PACKET_HEADROOM: received data starts this far into a frame
constexpr int kMaxKicks = 256;                 // sendto rounds per flush (copy mode sends 32 frames per call)

struct Queue {
  unsigned id = 0;
  void* area = MAP_FAILED;
  size_t area_len = 0;
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;
  xsk_ring_prod fill{}, tx{};
  xsk_ring_cons comp{}, rx{};
  std::vector<uint64_t> tx_free;   // transmit frames not in the device's hands
  std::vector<uint64_t> rx_addrs;  // frames of the current receive burst, back to the fill ring on release
  uint32_t rx_taken = 0;
  uint32_t outstanding = 0;        // transmit frames submitted and not yet completed
  bool zero_copy = false;

  ~Queue() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
    if (umem != nullptr) xsk_umem__delete(umem);
    if (area != MAP_FAILED) ::munmap(area, area_len);
  }
  int fd() const { return xsk_socket__fd(xsk); }
};

std::string create_error(int err, const std::string& iface, unsigned queue, bool zero_copy) {
  std::string s = "AF_XDP: socket on " + iface + " queue " + std::to_string(queue) + ": " + std::strerror(err);
  if (err == EBUSY) s += " (another AF_XDP socket uses this queue)";
  if (err == EPERM || err == EACCES) s += " (AF_XDP needs root, or CAP_NET_RAW and CAP_NET_ADMIN)";
  if (zero_copy && (err == EOPNOTSUPP || err == EINVAL)) s += " (the driver has no zero-copy AF_XDP: use copy mode)";
  if (err == EAFNOSUPPORT) s += " (the kernel was built without CONFIG_XDP_SOCKETS)";
  return s;
}

class XskPort final : public frame::FramePort {
 public:
  explicit XskPort(const AfxdpConfig& c) : cfg_(c) {
    if (cfg_.frames < 64 || (cfg_.frames & (cfg_.frames - 1)) != 0)
      throw frame::FrameError("AF_XDP: UMEM frames must be a power of two, at least 64 (got " +
                              std::to_string(cfg_.frames) + ")");
    iface_ = cfg_.iface.empty() ? interface_of(cfg_.local) : cfg_.iface;
    ifindex_ = interface_index(iface_);
    mac_ = interface_mac(iface_);
    mtu_ = interface_mtu(iface_);
    steering_ = std::make_unique<XdpSteering>(iface_, ifindex_, cfg_.local, cfg_.xdp_mode);
    const unsigned nq = rx_queue_count(iface_);
    if (cfg_.queue >= 0 && static_cast<unsigned>(cfg_.queue) >= nq)
      throw frame::FrameError("AF_XDP: " + iface_ + " has " + std::to_string(nq) + " receive queue(s), no queue " +
                              std::to_string(cfg_.queue));
    for (unsigned q = 0; q < nq; ++q)
      if (cfg_.queue < 0 || static_cast<unsigned>(cfg_.queue) == q) open_queue(q);
    if (queues_.size() == 1) {
      wait_fd_ = queues_[0]->fd();
    } else {
      epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
      if (epoll_fd_ < 0) frame::throw_errno("epoll_create1", errno);
      for (auto& q : queues_) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, q->fd(), &ev) != 0) frame::throw_errno("epoll_ctl", errno);
      }
      wait_fd_ = epoll_fd_;
    }
  }

  ~XskPort() override {
    queues_.clear();  // sockets before the program and its map
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  std::string describe() const override {
    return "AF_XDP " + iface_ + " (" + std::to_string(queues_.size()) + " queue" + (queues_.size() > 1 ? "s" : "") +
           ", " + (queues_[0]->zero_copy ? "zero-copy" : "copy mode") + ", " +
           (steering_->native() ? "native XDP" : "generic XDP") + ")";
  }
  frame::Mac mac() const override { return mac_; }
  size_t max_frame() const override { return std::min<size_t>(kFrameSize - kKernelHeadroom, mtu_ + 14); }

  size_t rx_burst(std::span<std::span<const uint8_t>> out) override {
    size_t k = 0;
    for (auto& qp : queues_) {
      Queue& q = *qp;
      if (k == out.size()) break;
      uint32_t idx = 0;
      const uint32_t n = xsk_ring_cons__peek(&q.rx, static_cast<uint32_t>(out.size() - k), &idx);
      if (n == 0) {
        // Busy polling, or a driver that wants its fill ring kicked: a non-blocking receive call does it.
        if (cfg_.busy_poll_us > 0 || xsk_ring_prod__needs_wakeup(&q.fill)) {
          (void)::recvfrom(q.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
          ++rx_syscalls_;
        }
        continue;
      }
      q.rx_addrs.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + i);
        q.rx_addrs[i] = d->addr;
        out[k++] = {static_cast<const uint8_t*>(xsk_umem__get_data(q.area, d->addr)), d->len};
      }
      q.rx_taken = n;
    }
    return k;
  }

  void rx_release() override {
    for (auto& qp : queues_) {
      Queue& q = *qp;
      if (q.rx_taken == 0) continue;
      uint32_t idx = 0;
      // The fill ring holds every receive frame, so room for the ones coming back is always there.
      const uint32_t got = xsk_ring_prod__reserve(&q.fill, q.rx_taken, &idx);
      for (uint32_t i = 0; i < got; ++i)
        *xsk_ring_prod__fill_addr(&q.fill, idx + i) = xsk_umem__extract_addr(q.rx_addrs[i]);
      xsk_ring_prod__submit(&q.fill, got);
      xsk_ring_cons__release(&q.rx, q.rx_taken);
      q.rx_taken = 0;
    }
  }

  std::span<uint8_t> tx_slot() override {
    Queue& q = *queues_[0];
    if (q.tx_free.empty()) reap(q);
    if (q.tx_free.empty()) return {};
    return {static_cast<uint8_t*>(xsk_umem__get_data(q.area, q.tx_free.back())), max_frame()};
  }

  void tx_commit(size_t len) override {
    Queue& q = *queues_[0];
    pending_.push_back({q.tx_free.back(), static_cast<uint32_t>(len)});
    q.tx_free.pop_back();
  }

  void tx_flush() override {
    Queue& q = *queues_[0];
    if (!pending_.empty()) {
      uint32_t idx = 0;
      const auto n = static_cast<uint32_t>(pending_.size());
      // The ring is as large as the transmit frame pool: what is queued always fits.
      const uint32_t got = xsk_ring_prod__reserve(&q.tx, n, &idx);
      for (uint32_t i = 0; i < got; ++i) {
        xdp_desc* d = xsk_ring_prod__tx_desc(&q.tx, idx + i);
        d->addr = pending_[i].first;
        d->len = pending_[i].second;
        d->options = 0;
      }
      xsk_ring_prod__submit(&q.tx, got);
      q.outstanding += got;
      pending_.erase(pending_.begin(), pending_.begin() + got);
    }
    kick(q);
    reap(q);
  }

  bool tx_pending() const override { return !pending_.empty() || queues_[0]->outstanding > 0; }
  int wait_fd() const override { return wait_fd_; }
  uint64_t rx_syscalls() const override { return rx_syscalls_; }
  uint64_t tx_syscalls() const override { return tx_syscalls_; }

  std::vector<std::pair<std::string, uint64_t>> counters() const override {
    std::vector<std::pair<std::string, uint64_t>> c{
        {"zero_copy", queues_[0]->zero_copy ? 1 : 0},
        {"native_xdp", steering_->native() ? 1 : 0},
        {"queues", queues_.size()},
        {"xdp_steered", steering_->steered()},
        {"xdp_passed", steering_->passed()},
        {"tx_wakeups", tx_syscalls_},
        {"rx_wakeups", rx_syscalls_},
    };
    uint64_t dropped = 0, ring_full = 0, fill_empty = 0, invalid = 0;
    for (const auto& q : queues_) {
      xdp_statistics st{};
      socklen_t len = sizeof st;
      if (::getsockopt(q->fd(), SOL_XDP, XDP_STATISTICS, &st, &len) != 0) continue;
      dropped += st.rx_dropped;
      ring_full += st.rx_ring_full;
      fill_empty += st.rx_fill_ring_empty_descs;
      invalid += st.rx_invalid_descs + st.tx_invalid_descs;
    }
    c.insert(c.end(), {{"rx_dropped", dropped}, {"rx_ring_full", ring_full}, {"rx_fill_ring_empty", fill_empty},
                       {"invalid_descs", invalid}});
    return c;
  }

 private:
  void open_queue(unsigned id) {
    auto q = std::make_unique<Queue>();
    q->id = id;
    q->area_len = size_t{cfg_.frames} * kFrameSize;
    q->area = ::mmap(nullptr, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (q->area == MAP_FAILED) frame::throw_errno("AF_XDP: UMEM of " + std::to_string(q->area_len) + " bytes", errno);
    const uint32_t half = cfg_.frames / 2;
    xsk_umem_config uc{};
    uc.fill_size = half;
    uc.comp_size = half;
    uc.frame_size = kFrameSize;
    uc.frame_headroom = 0;
    if (const int rc = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &uc); rc != 0)
      throw frame::FrameError("AF_XDP: UMEM registration: " + std::string(std::strerror(-rc)) +
                              (-rc == EPERM ? " (needs root)" : ""));
    xsk_socket_config sc{};
    sc.rx_size = half;
    sc.tx_size = half;
    sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // our own program steers (xdp_steering.hpp)
    const bool try_zc = cfg_.copy_mode != CopyMode::copy;
    sc.bind_flags = XDP_USE_NEED_WAKEUP | (try_zc ? XDP_ZEROCOPY : XDP_COPY);
    int rc = xsk_socket__create(&q->xsk, iface_.c_str(), id, q->umem, &q->rx, &q->tx, &sc);
    if (rc != 0 && try_zc && cfg_.copy_mode == CopyMode::automatic) {
      q->xsk = nullptr;
      sc.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
      rc = xsk_socket__create(&q->xsk, iface_.c_str(), id, q->umem, &q->rx, &q->tx, &sc);
    }
    if (rc != 0) {
      q->xsk = nullptr;
      throw frame::FrameError(create_error(-rc, iface_, id, cfg_.copy_mode == CopyMode::zero_copy));
    }
    xdp_options opts{};
    socklen_t ol = sizeof opts;
    if (::getsockopt(q->fd(), SOL_XDP, XDP_OPTIONS, &opts, &ol) == 0) q->zero_copy = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;
    if (const int r = xsk_socket__update_xskmap(q->xsk, steering_->xsk_map_fd()); r != 0)
      throw frame::FrameError("AF_XDP: adding the socket of queue " + std::to_string(id) + " to the XSK map: " +
                              std::strerror(-r));
    if (cfg_.busy_poll_us > 0) {
      int one = 1, us = static_cast<int>(cfg_.busy_poll_us), budget = 64;
      if (::setsockopt(q->fd(), SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof one) != 0 ||
          ::setsockopt(q->fd(), SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us) != 0 ||
          ::setsockopt(q->fd(), SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget) != 0)
        frame::throw_errno("AF_XDP: busy-poll socket options (need root)", errno);
    }
    // Receive frames [0, half) go to the fill ring; transmit frames [half, frames) wait in the free list.
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&q->fill, half, &idx) != half) throw frame::FrameError("AF_XDP: fill ring too small");
    for (uint32_t i = 0; i < half; ++i) *xsk_ring_prod__fill_addr(&q->fill, idx + i) = uint64_t{i} * kFrameSize;
    xsk_ring_prod__submit(&q->fill, half);
    q->tx_free.reserve(half);
    for (uint32_t i = half; i < cfg_.frames; ++i) q->tx_free.push_back(uint64_t{i} * kFrameSize);
    queues_.push_back(std::move(q));
  }

  // Copy mode transmits in the sendto call, up to 32 frames each time: call until the kernel has taken
  // every descriptor (or says it cannot now). Zero-copy drivers need a call only when they ask for it.
  void kick(Queue& q) {
    for (int i = 0; i < kMaxKicks; ++i) {
      if (__atomic_load_n(q.tx.consumer, __ATOMIC_ACQUIRE) == *q.tx.producer) break;
      if (!xsk_ring_prod__needs_wakeup(&q.tx)) break;
      const ssize_t r = ::sendto(q.fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
      ++tx_syscalls_;
      if (r < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR) break;
      if (r < 0 && errno == EBUSY) reap(q);  // the completion ring is full: drain it and go on
    }
  }

  void reap(Queue& q) {
    uint32_t idx = 0;
    const uint32_t n = xsk_ring_cons__peek(&q.comp, q.outstanding, &idx);
    for (uint32_t i = 0; i < n; ++i) q.tx_free.push_back(xsk_umem__extract_addr(*xsk_ring_cons__comp_addr(&q.comp, idx + i)));
    xsk_ring_cons__release(&q.comp, n);
    q.outstanding -= n;
  }

  AfxdpConfig cfg_;
  std::string iface_;
  int ifindex_ = 0;
  frame::Mac mac_;
  unsigned mtu_ = 1500;
  std::unique_ptr<XdpSteering> steering_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::pair<uint64_t, uint32_t>> pending_;  // committed, not yet on the transmit ring
  int wait_fd_ = -1, epoll_fd_ = -1;
  uint64_t rx_syscalls_ = 0, tx_syscalls_ = 0;
};

}  // namespace

std::unique_ptr<frame::FramePort> open_xsk_port(const AfxdpConfig& config) { return std::make_unique<XskPort>(config); }

}  // namespace rfab::afxdp
