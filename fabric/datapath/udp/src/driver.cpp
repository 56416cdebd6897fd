#include "rfab/udp/driver.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "icrc_check.hpp"
#include "rfab/fault/fault_injector.hpp"
#include "rfab/udp/error.hpp"
#include "rfab/wire/bytes.hpp"
#include "rfab/wire/opcode.hpp"

namespace rfab::udp {
namespace {

// Packets taken from one QP in a row: long enough for full GSO runs (64 KiB / 4 KiB packets).
constexpr size_t kPerQpRun = 16;
// recvmmsg rounds per progress() before turning to transmit, so a flood cannot starve our own sends.
constexpr int kRxRounds = 1;

}  // namespace

UdpDriver::UdpDriver(const DriverConfig& cfg)
    : cfg_(cfg),
      rx_sock_(UdpSocket::bind(cfg.local, cfg.socket)),
      rx_(rx_sock_),
      verifier_(cfg.ipv4_id_window) {
  if (cfg_.tx_burst == 0) throw UdpError("tx_burst must be at least 1");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw_errno("epoll_create1", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, rx_sock_.fd(), &ev) != 0) throw_errno("epoll_ctl", errno);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw_errno("eventfd", errno);
  ev.data.u64 = kWakeEvent;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) throw_errno("epoll_ctl", errno);
  pool_.resize(cfg_.tx_burst);
  for (auto& b : pool_) b.resize(rc::kMaxPacketBytes);
  if (cfg_.rx_faults && cfg_.rx_faults->any()) faults_ = std::make_unique<fault::FaultInjector>(*cfg_.rx_faults);
}

UdpDriver::~UdpDriver() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void UdpDriver::wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // EAGAIN only when the counter is saturated: still readable
}

Nanos UdpDriver::now() const {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000ull + static_cast<Nanos>(ts.tv_nsec);
}

const DriverStats& UdpDriver::stats() const {
  stats_.rx_syscalls = rx_.counters().syscalls;
  stats_.entropy_sockets = entropy_.size();
  stats_.tx_packets = stats_.tx_bytes = stats_.tx_syscalls = stats_.tx_dropped = 0;
  for (const auto& [port, e] : entropy_) {
    stats_.tx_packets += e.batch->counters().datagrams;
    stats_.tx_bytes += e.batch->counters().bytes;
    stats_.tx_syscalls += e.batch->counters().syscalls;
    stats_.tx_dropped += e.batch->counters().dropped;
  }
  return stats_;
}

void UdpDriver::attach(rc::QueuePair& qp, const Address& peer) {
  if (peer.v6 != cfg_.local.v6)
    throw UdpError("peer " + peer.to_string() + " and local address " + cfg_.local.to_string() +
                   " are of different IP versions");
  if (by_qpn_.count(qp.qp_num()) != 0) throw UdpError("QP " + std::to_string(qp.qp_num()) + " is already attached");
  by_qpn_[qp.qp_num()] = qps_.size();
  qps_.push_back(Attached{&qp, peer});
}

void UdpDriver::detach(uint32_t qp_num) {
  auto it = by_qpn_.find(qp_num);
  if (it == by_qpn_.end()) return;
  const size_t idx = it->second;
  by_qpn_.erase(it);
  qps_.erase(qps_.begin() + static_cast<long>(idx));
  for (auto& [n, i] : by_qpn_)
    if (i > idx) --i;
}

// The socket for a source port. The QP's port is only entropy (an ECMP hash input), so when it is taken
// by another socket on this host a free neighbour serves just as well; the ICRC is computed for the port
// actually used.
UdpDriver::Entropy& UdpDriver::entropy(uint16_t port) {
  auto it = entropy_.find(port);
  if (it != entropy_.end()) return it->second;
  for (unsigned attempt = 0; attempt < 256; ++attempt) {
    const auto p = static_cast<uint16_t>(0xC000 | ((port + attempt) & 0x3FFF));
    const uint16_t want = attempt == 0 ? port : p;
    try {
      UdpSocket sock = UdpSocket::bind(cfg_.local.with_port(want), cfg_.socket);
      Entropy& e = entropy_[port];
      e.sock = std::move(sock);
      e.batch = std::make_unique<TxBatch>(e.sock, cfg_.gso);  // points at the socket inside the map
      if (attempt > 0) ++stats_.ports_remapped;
      return e;
    } catch (const UdpError&) {
      if (attempt == 255) throw;
    }
  }
  throw UdpError("no free UDP source port near " + std::to_string(port));
}

void UdpDriver::deliver(Nanos now, const Address& src, std::span<const uint8_t> data, bool ce) {
  ++stats_.rx_packets;
  stats_.rx_bytes += data.size();
  if (data.size() < wire::kBthLen + wire::kIcrcLen) {
    ++stats_.rx_malformed;
    return;
  }
  // The QP number is read before the ICRC check: a corrupt one can only pick a QP whose own call of the
  // check (below) then fails, or a path that runs the check first.
  const uint32_t qpn = wire::load_be24(data.data() + 5);
  const bool gsi = qpn == 1 && cfg_.gsi;
  const auto it = gsi ? by_qpn_.end() : by_qpn_.find(qpn);
  if (it == by_qpn_.end()) {
    if (cfg_.verify_icrc && !verifier_.verify(src, rx_sock_.local(), data)) {
      ++stats_.rx_bad_icrc;
      return;
    }
    if (gsi) cfg_.gsi(src, data);
    else ++stats_.rx_unknown_qp;
    return;
  }
  rc::RxMeta meta;
  meta.ecn_ce = ce;
  meta.src_port = src.port;
  if (!cfg_.verify_icrc) {
    qps_[it->second].qp->handle_packet(now, data, meta);
    return;
  }
  // The QP runs the check before the packet changes anything, folded into the copy of the payload when it
  // knows where that goes (rc::RxCheck).
  IcrcCheck check(verifier_, src, rx_sock_.local(), data);
  if (qps_[it->second].qp->handle_packet(now, data, meta, check) == rc::RxResult::corrupt) ++stats_.rx_bad_icrc;
}

size_t UdpDriver::receive(Nanos now) {
  size_t n = 0;
  for (int round = 0; round < kRxRounds; ++round) {
    if (rx_.receive(rx_scratch_) == 0) break;
    n += rx_scratch_.size();
    for (const RxDatagram& d : rx_scratch_) {
      if (!faults_) {
        deliver(now, d.src, d.data, d.ecn_ce);
        continue;
      }
      // Remember the source; the injector carries its index and the CE bit in `meta`.
      auto f = std::find(fault_srcs_.begin(), fault_srcs_.end(), d.src);
      if (f == fault_srcs_.end()) f = fault_srcs_.insert(fault_srcs_.end(), d.src);
      const uint64_t meta = static_cast<uint64_t>(f - fault_srcs_.begin()) | (d.ecn_ce ? 1ull << 32 : 0);
      faults_->push(now, std::vector<uint8_t>(d.data.begin(), d.data.end()), meta, fault::kAfterBthMaskedByte);
    }
  }
  if (faults_) {
    std::vector<fault::Packet> ready;
    faults_->pop_ready(now, ready);
    for (const auto& p : ready)
      deliver(now, fault_srcs_[p.meta & 0xFFFFFFFF], p.bytes, (p.meta >> 32) != 0);
    n += ready.size();
  }
  stats_.rx_syscalls = rx_.counters().syscalls;
  return n;
}

void UdpDriver::flush_all() {
  for (auto& [port, e] : entropy_)
    if (!e.batch->empty()) e.batch->flush();
}

size_t UdpDriver::transmit(Nanos now, Nanos& wake) {
  size_t used = 0;
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t k = 0; k < qps_.size(); ++k) {
      const size_t i = (rr_ + k) % qps_.size();
      Attached& a = qps_[i];
      for (size_t run = 0; run < kPerQpRun; ++run) {
        if (!a.qp->has_transmit()) break;
        // Pacing: a packet may leave up to pacing_slack ahead of its slot, so that a burst at the
        // controller's rate fills a GSO send instead of costing one system call per packet.
        const Nanos at = a.qp->next_send_time();
        if (at > now + cfg_.pacing_slack) {
          wake = std::min(wake, at);
          break;
        }
        if (used == pool_.size()) {
          flush_all();
          used = 0;
        }
        rc::TxPacket pkt;
        pkt.buf = pool_[used];
        pkt.gather = cfg_.gather;
        if (!a.qp->poll_transmit(now, pkt)) break;
        ++used;
        progress = true;
        Entropy& e = entropy(pkt.src_port);
        const Address dst = a.peer;
        if (!pkt.payload.empty()) {
          std::span<uint8_t> hdrs(pool_[used - 1].data(), pkt.header_len + 4);
          if (!e.batch->push_gather(dst, hdrs, pkt.header_len, pkt.payload)) {
            e.batch->flush();
            e.batch->push_gather(dst, hdrs, pkt.header_len, pkt.payload);
          }
          continue;
        }
        std::span<uint8_t> bytes(pool_[used - 1].data(), pkt.len);
        if (!e.batch->push(dst, bytes)) {
          e.batch->flush();
          e.batch->push(dst, bytes);
        }
      }
    }
    rr_ = qps_.empty() ? 0 : (rr_ + 1) % qps_.size();
  }
  flush_all();
  return used;
}

bool UdpDriver::progress(Nanos max_wait) {
  Nanos now = this->now();
  size_t work = receive(now);
  // Timers.
  for (Attached& a : qps_)
    if (a.qp->next_deadline() <= now) {
      a.qp->handle_timeout(now);
      ++work;
    }
  Nanos wake = kNever;
  work += transmit(now, wake);
  if (work > 0 || max_wait == 0) return work > 0;

  // Nothing to do: sleep until a packet arrives or the next timer / pacing slot / delayed packet.
  for (const Attached& a : qps_) wake = std::min(wake, a.qp->next_deadline());
  if (faults_) wake = std::min(wake, faults_->next_ready());
  const Nanos limit = now + max_wait;
  wake = std::min(wake, limit);
  if (wake <= now) return false;
  const Nanos wait = wake - now;
  timespec ts{static_cast<time_t>(wait / 1'000'000'000ull), static_cast<long>(wait % 1'000'000'000ull)};
  epoll_event ev[2];
  const int r = ::epoll_pwait2(epoll_fd_, ev, 2, &ts, nullptr);
  if (r < 0 && errno != EINTR) throw_errno("epoll_pwait2", errno);
  for (int i = 0; i < r; ++i)
    if (ev[i].data.u64 == kWakeEvent) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);  // re-arm: the next wait sleeps again
    }
  return false;
}

}  // namespace rfab::udp
