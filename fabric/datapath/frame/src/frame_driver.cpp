#include "rfab/frame/frame_driver.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "rfab/fault/fault_injector.hpp"
#include "rfab/frame/arp.hpp"
#include "rfab/frame/error.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::frame {
namespace {

constexpr size_t kPerQpRun = 16;    // packets taken from one QP in a row (round-robin fairness)
constexpr size_t kRxBurst = 64;     // frames per rx_burst
constexpr size_t kTxBurst = 64;     // frames queued before the port is flushed
constexpr size_t kRoceOverhead = 64;  // BTH + RETH/AtomicETH + ImmDt + ICRC, rounded up (rc::kMaxPacketBytes)
constexpr Nanos kArpRetry = 250'000'000;

udp::Address ip_only(udp::Address a) {
  a.port = 0;
  return a;
}

}  // namespace

FrameDriver::FrameDriver(const FrameDriverConfig& cfg, std::unique_ptr<FramePort> port)
    : cfg_(cfg), port_(std::move(port)), mac_(port_->mac()), rx_(kRxBurst) {
  if (!cfg_.own_arp && !cfg_.resolve) throw FrameError("frame driver: no neighbour resolver and no own ARP");
  if (cfg_.own_arp && cfg_.local.v6)
    throw FrameError("the DPDK datapath resolves neighbours with ARP: give it an IPv4 address (" +
                     cfg_.local.ip_string() + " is IPv6)");
  if (max_mtu() < 256)
    throw FrameError(port_->describe() + ": frames of " + std::to_string(port_->max_frame()) +
                     " bytes cannot carry a 256-byte RoCE MTU");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw_errno("eventfd", errno);
  if (port_->wait_fd() >= 0) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw_errno("epoll_create1", errno);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, port_->wait_fd(), &ev) != 0) throw_errno("epoll_ctl", errno);
    ev.data.u64 = 1;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) throw_errno("epoll_ctl", errno);
  }
  if (cfg_.rx_faults && cfg_.rx_faults->any()) faults_ = std::make_unique<fault::FaultInjector>(*cfg_.rx_faults);
}

FrameDriver::~FrameDriver() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

uint32_t FrameDriver::max_mtu() const {
  const size_t hdr = cfg_.local.v6 ? kIpv6FrameHeaders : kIpv4FrameHeaders;
  for (uint32_t m = 4096; m >= 256; m /= 2)
    if (hdr + m + kRoceOverhead <= port_->max_frame()) return m;
  return 0;
}

Nanos FrameDriver::now() const {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000ull + static_cast<Nanos>(ts.tv_nsec);
}

void FrameDriver::wake() {
  woken_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void FrameDriver::attach(rc::QueuePair& qp, const udp::Address& peer) {
  if (peer.v6 != cfg_.local.v6)
    throw FrameError("peer " + peer.to_string() + " and local address " + cfg_.local.to_string() +
                     " are of different IP versions");
  if (by_qpn_.count(qp.qp_num()) != 0) throw FrameError("QP " + std::to_string(qp.qp_num()) + " is already attached");
  const uint32_t mtu = rc::mtu_bytes(qp.query().path_mtu);
  if (mtu > max_mtu())
    throw FrameError(port_->describe() + " carries RoCE MTUs up to " + std::to_string(max_mtu()) + " bytes (frames of " +
                     std::to_string(port_->max_frame()) + " bytes), the QP asks for " + std::to_string(mtu) +
                     ": use --mtu " + std::to_string(max_mtu()) + " or less");
  const Mac dst = neighbour(peer);
  by_qpn_[qp.qp_num()] = qps_.size();
  qps_.push_back(Attached{&qp, peer, HeaderTemplate(mac_, dst, cfg_.local, peer)});
}

void FrameDriver::detach(uint32_t qp_num) {
  auto it = by_qpn_.find(qp_num);
  if (it == by_qpn_.end()) return;
  const size_t idx = it->second;
  by_qpn_.erase(it);
  qps_.erase(qps_.begin() + static_cast<long>(idx));
  for (auto& [n, i] : by_qpn_)
    if (i > idx) --i;
}

Mac FrameDriver::neighbour(const udp::Address& peer) {
  const udp::Address key = ip_only(peer);
  auto it = neighbours_.find(key);
  if (it != neighbours_.end()) return it->second;
  const Mac m = cfg_.own_arp ? arp_resolve(peer) : cfg_.resolve(peer);
  neighbours_[key] = m;
  return m;
}

void FrameDriver::send_arp(const ArpPacket& p) {
  std::span<uint8_t> slot = port_->tx_slot();
  if (slot.empty()) {
    port_->tx_flush();
    slot = port_->tx_slot();
    if (slot.empty()) return;  // the port is full: a later retry sends it
  }
  port_->tx_commit(write_arp(p, slot));
  port_->tx_flush();
  ++(p.request ? stats_.arp_requests : stats_.arp_replies);
}

// Asks the link who has the peer's address, and keeps the datapath running (other QPs, our own ARP
// answers) until the reply comes or the time is up.
Mac FrameDriver::arp_resolve(const udp::Address& peer) {
  ArpPacket req;
  req.request = true;
  req.sender_mac = mac_;
  std::memcpy(req.sender_ip.data(), cfg_.local.ip.data(), 4);
  std::memcpy(req.target_ip.data(), peer.ip.data(), 4);
  const udp::Address key = ip_only(peer);
  const Nanos start = now();
  Nanos next_try = start;
  for (;;) {
    const Nanos t = now();
    if (auto it = neighbours_.find(key); it != neighbours_.end()) return it->second;
    if (t - start > cfg_.arp_timeout)
      throw FrameError(port_->describe() + ": no ARP reply from " + peer.ip_string() + " within " +
                       std::to_string(cfg_.arp_timeout / 1'000'000) + " ms (is it on this link, and up?)");
    if (t >= next_try) {
      send_arp(req);
      next_try = t + kArpRetry;
    }
    progress(1'000'000);
  }
}

void FrameDriver::deliver(Nanos now, const udp::Address& src, std::span<const uint8_t> data, bool ce) {
  const uint32_t qpn = wire::load_be24(data.data() + 5);
  auto it = by_qpn_.find(qpn);
  if (it == by_qpn_.end()) {
    ++stats_.rx_unknown_qp;
    return;
  }
  rc::RxMeta meta;
  meta.ecn_ce = ce;
  meta.src_port = src.port;
  qps_[it->second].qp->handle_packet(now, data, meta);
}

void FrameDriver::handle_frame(Nanos now, std::span<const uint8_t> frame) {
  RoceFrame f;
  switch (parse_frame(frame, cfg_.local.port, f)) {
    case FrameKind::arp: {
      const auto arp = parse_arp(frame);
      if (!cfg_.own_arp || !arp) {
        ++stats_.rx_not_roce;
        return;
      }
      const bool for_us = std::memcmp(arp->target_ip.data(), cfg_.local.ip.data(), 4) == 0;
      // Learn the sender when it asks us or answers us (RFC 826's merge rule, restricted to our traffic).
      if (for_us) {
        udp::Address sender;
        std::memcpy(sender.ip.data(), arp->sender_ip.data(), 4);
        neighbours_[sender] = arp->sender_mac;
      }
      if (for_us && arp->request) {
        ArpPacket reply;
        reply.request = false;
        reply.sender_mac = mac_;
        reply.sender_ip = arp->target_ip;
        reply.target_mac = arp->sender_mac;
        reply.target_ip = arp->sender_ip;
        send_arp(reply);
      }
      return;
    }
    case FrameKind::other: ++stats_.rx_not_roce; return;
    case FrameKind::malformed: ++stats_.rx_malformed; return;
    case FrameKind::roce: break;
  }
  if (!f.dst.same_ip(cfg_.local)) {
    ++stats_.rx_not_roce;
    return;
  }
  ++stats_.rx_packets;
  stats_.rx_bytes += f.udp_payload.size();
  if (!faults_) {
    if (cfg_.verify_icrc && !icrc_matches(f)) {
      ++stats_.rx_bad_icrc;
      return;
    }
    deliver(now, f.src, f.udp_payload, f.ecn_ce);
    return;
  }
  // Faults act between the wire and the ICRC check, as on a lossy link: the injector keeps a copy of the
  // IP datagram (headers included, so the check still sees what the ICRC covers). `meta` carries the
  // source's index (bits 0..31), the CE bit (32) and the IP+UDP header length (40..47).
  auto s = std::find(fault_srcs_.begin(), fault_srcs_.end(), f.src);
  if (s == fault_srcs_.end()) s = fault_srcs_.insert(fault_srcs_.end(), f.src);
  const size_t hl = f.ip_udp.size();
  const uint64_t meta = static_cast<uint64_t>(s - fault_srcs_.begin()) | (f.ecn_ce ? 1ull << 32 : 0) |
                        (static_cast<uint64_t>(hl) << 40);
  std::vector<uint8_t> bytes(f.ip_udp.begin(), f.ip_udp.end());
  bytes.insert(bytes.end(), f.udp_payload.begin(), f.udp_payload.end());
  faults_->push(now, std::move(bytes), meta, hl + fault::kAfterBthMaskedByte);
}

size_t FrameDriver::receive(Nanos now) {
  const size_t n = port_->rx_burst(rx_);
  for (size_t i = 0; i < n; ++i) handle_frame(now, rx_[i]);
  if (n > 0) port_->rx_release();
  size_t work = n;
  if (faults_) {
    std::vector<fault::Packet> ready;
    faults_->pop_ready(now, ready);
    for (const auto& p : ready) {
      RoceFrame f;
      const size_t hl = (p.meta >> 40) & 0xFF;
      f.ip_udp = std::span<const uint8_t>(p.bytes).first(hl);
      f.udp_payload = std::span<const uint8_t>(p.bytes).subspan(hl);
      if (cfg_.verify_icrc && !icrc_matches(f)) {
        ++stats_.rx_bad_icrc;
        continue;
      }
      deliver(now, fault_srcs_[p.meta & 0xFFFFFFFF], f.udp_payload, ((p.meta >> 32) & 1) != 0);
    }
    work += ready.size();
  }
  return work;
}

size_t FrameDriver::transmit(Nanos now, Nanos& wake) {
  size_t sent = 0, queued = 0;
  bool more = true;
  while (more) {
    more = false;
    for (size_t k = 0; k < qps_.size(); ++k) {
      const size_t i = (rr_ + k) % qps_.size();
      Attached& a = qps_[i];
      for (size_t run = 0; run < kPerQpRun; ++run) {
        if (!a.qp->has_transmit()) break;
        const Nanos at = a.qp->next_send_time();
        if (at > now + cfg_.pacing_slack) {
          wake = std::min(wake, at);
          break;
        }
        std::span<uint8_t> slot = port_->tx_slot();
        if (slot.empty()) {
          port_->tx_flush();
          queued = 0;
          slot = port_->tx_slot();
          if (slot.empty()) {
            ++stats_.tx_no_buffer;
            return sent;  // the device has not completed earlier frames yet: the next progress() goes on
          }
        }
        const size_t hdr = a.hdr.len();
        rc::TxPacket pkt;
        pkt.buf = slot.subspan(hdr);
        if (!a.qp->poll_transmit(now, pkt)) break;
        const size_t len = a.hdr.finish(slot.data(), pkt.len, pkt.src_port, a.peer.port, pkt.is_cnp ? 0 : kEct0,
                                        cfg_.udp_checksum_v4);
        port_->tx_commit(len);
        ++stats_.tx_packets;
        stats_.tx_bytes += pkt.len;
        ++sent;
        more = true;
        if (++queued == kTxBurst) {
          port_->tx_flush();
          queued = 0;
        }
      }
    }
    rr_ = qps_.empty() ? 0 : (rr_ + 1) % qps_.size();
  }
  port_->tx_flush();
  return sent;
}

void FrameDriver::sleep(Nanos now, Nanos until) {
  if (epoll_fd_ < 0) {
    // No fd to sleep on: poll the port until a frame, wake() or the deadline (a DPDK port is polled).
    while (this->now() < until) {
      if (woken_.exchange(false, std::memory_order_acq_rel)) return;
      const size_t n = port_->rx_burst(rx_);
      if (n > 0) {
        const Nanos t = this->now();
        for (size_t i = 0; i < n; ++i) handle_frame(t, rx_[i]);
        port_->rx_release();
        return;
      }
    }
    return;
  }
  if (cfg_.spin > 0) {
    const Nanos spin_end = std::min(until, now + cfg_.spin);
    while (this->now() < spin_end) {
      if (woken_.load(std::memory_order_acquire)) break;
      const size_t n = port_->rx_burst(rx_);
      if (n > 0) {
        const Nanos t = this->now();
        for (size_t i = 0; i < n; ++i) handle_frame(t, rx_[i]);
        port_->rx_release();
        return;
      }
    }
  }
  const Nanos t = this->now();
  if (until <= t) return;
  const Nanos wait = until - t;
  timespec ts{static_cast<time_t>(wait / 1'000'000'000ull), static_cast<long>(wait % 1'000'000'000ull)};
  epoll_event ev[2];
  const int r = ::epoll_pwait2(epoll_fd_, ev, 2, &ts, nullptr);
  if (r < 0 && errno != EINTR) throw_errno("epoll_pwait2", errno);
  for (int i = 0; i < r; ++i)
    if (ev[i].data.u64 == 1) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
      woken_.store(false, std::memory_order_release);
    }
}

bool FrameDriver::progress(Nanos max_wait) {
  Nanos now = this->now();
  size_t work = receive(now);
  for (Attached& a : qps_)
    if (a.qp->next_deadline() <= now) {
      a.qp->handle_timeout(now);
      ++work;
    }
  Nanos wake = kNever;
  work += transmit(now, wake);
  // Frames still in the device's queue need their completions reaped (and a wakeup) before buffers return.
  if (port_->tx_pending()) port_->tx_flush();
  if (work > 0 || max_wait == 0) return work > 0;
  for (const Attached& a : qps_) wake = std::min(wake, a.qp->next_deadline());
  if (faults_) wake = std::min(wake, faults_->next_ready());
  // Completions of frames in flight free the buffers a blocked transmit waits for: come back soon.
  if (port_->tx_pending()) wake = std::min(wake, now + 20'000);
  wake = std::min(wake, now + max_wait);
  if (wake <= now) return false;
  sleep(now, wake);
  return false;
}

}  // namespace rfab::frame
