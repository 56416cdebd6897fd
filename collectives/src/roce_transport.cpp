// RoCE transport: setup (device, QPs, rings), the application side of each pair, peer checks, shutdown.
// The datapath thread is in roce_datapath.cpp.
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "rfab/base/env.hpp"
#include "rfab/collectives/types.hpp"
#include "rfab/endpoint/connect.hpp"
#include "rfab/udp/error.hpp"
#include "roce_impl.hpp"
#include "roce_window.hpp"

namespace rfab::coll {

namespace {
constexpr uint64_t kAlign = 64;  // messages start 64-byte aligned in the ring, as in shared memory

// Local ACK timeout (IBTA code, 4.096 us * 2^code) so that 8 unanswered retries (retry_cnt 7) plus a
// keep-alive interval fit well inside RFAB_TIMEOUT. Never below 67 ms (a loaded host answers late and
// every expiry costs a go-back-N resend) and never above 268 ms (a lost tail packet stalls a pipeline for
// one ACK timeout).
uint8_t ack_timeout_code(std::chrono::milliseconds timeout) {
  double target_us = static_cast<double>(timeout.count()) * 1000.0 / 16.0;
  int code = static_cast<int>(std::floor(std::log2(std::max(1.0, target_us / 4.096))));
  return static_cast<uint8_t>(std::clamp(code, 14, 16));
}

// Lets the kernel read every page of [p, p + bytes) once, as sendmsg will (it copies payloads straight
// from staging). On a guest with shadow page tables the kernel's first access to each user page costs
// microseconds even after user space touched it, which makes every message slow until the streams have
// gone once round their rings (figures in bench/results). Elsewhere it is about a millisecond of setup. A 64 KiB window of a memfd is rewritten, so it holds no more memory than that.
void warm_for_kernel(void* p, size_t bytes) {
  const int fd = memfd_create("rfab-warm", MFD_CLOEXEC);
  if (fd < 0) return;  // only an optimisation
  constexpr size_t kWindow = size_t{64} << 10;
  for (size_t off = 0; off < bytes; off += kWindow)
    if (::pwrite(fd, static_cast<std::byte*>(p) + off, std::min(kWindow, bytes - off), 0) < 0) break;
  ::close(fd);
}

RingMemory alloc_ring(size_t bytes) {
  void* p = std::aligned_alloc(4096, bytes);
  if (p == nullptr) throw Error(Status::System, "RoCE: cannot allocate a " + std::to_string(bytes) + "-byte ring");
  std::memset(p, 0, bytes);  // touch the pages now, not on the datapath
  warm_for_kernel(p, bytes);
  return RingMemory(static_cast<std::byte*>(p));
}

bool is_loopback(const udp::Address& a) {
  if (!a.v6) return a.ip[0] == 127;
  static const std::array<uint8_t, 16> lo6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return a.ip == lo6;
}

}  // namespace

// ---------------------------------------------------------------- application side of a pair

void RocePair::begin_send() {
  tail_ = roce::align_up(tail_, kAlign);
  p_.app_tail.store(tail_, std::memory_order_release);
}

void RocePair::begin_recv() {
  head_ = roce::align_up(head_, kAlign);
  p_.app_head.store(head_, std::memory_order_release);
}

// How much of n bytes the ring has room for now (whole granules unless all of n fits).
size_t RocePair::send_window(size_t n, size_t granule) const {
  size_t free = roce::send_space(tail_, p_.release.load(std::memory_order_acquire), p_.cap);
  if (free < n) n = free - free % (granule == 0 ? 1 : granule);
  return n;
}

size_t RocePair::try_send(const std::byte* src, size_t n, size_t granule) {
  n = send_window(n, granule);
  if (n == 0) return 0;
  const size_t off = static_cast<size_t>(tail_ & (p_.cap - 1));
  const size_t first = std::min(n, p_.cap - off);
  std::memcpy(p_.staging.get() + off, src, first);
  if (first < n) std::memcpy(p_.staging.get(), src + first, n - first);
  tail_ += n;
  written_ = tail_;
  p_.app_tail.store(tail_, std::memory_order_release);
  t_.kick();
  return n;
}

bool RocePair::can_send_ref(size_t bytes) const { return t_.any_lkey != 0 && bytes >= t_.opt.zero_copy_min; }

size_t RocePair::try_send_ref(const std::byte* src, size_t n, size_t granule, uint64_t* pos) {
  if (refs_ - p_.ref_posted.load(std::memory_order_acquire) >= RocePeer::kRefSlots) return 0;
  n = send_window(n, granule);  // the receiver's ring still bounds what may be in flight
  if (n == 0) return 0;
  p_.refs[refs_ % RocePeer::kRefSlots] = RefSpan{written_, tail_, tail_ + n, src};
  p_.ref_tail.store(++refs_, std::memory_order_release);  // before app_tail covers the span
  *pos = tail_;
  tail_ += n;
  written_ = ref_end_ = tail_;
  p_.app_tail.store(tail_, std::memory_order_release);
  t_.kick();
  return n;
}

uint64_t RocePair::sent_through() {
  const uint64_t through = p_.acked_pub.load(std::memory_order_acquire);
  if (through >= ref_end_ || p_.state.load(std::memory_order_acquire) != kPeerClosed) return through;
  // The peer destroyed its communicator, so it had received everything (each of our sends has its
  // receive there); the acknowledgements of our last writes may never come. Stop the QP resending from
  // the caller's memory and count those writes delivered.
  stop_qp("the peer closed the connection");
  return UINT64_MAX;
}

void RocePair::abandon_refs() {
  if (p_.acked_pub.load(std::memory_order_acquire) >= ref_end_) return;  // nothing of the caller's in flight
  stop_qp("connection closed: a collective failed while data sent from the caller's buffer was in flight");
}

// The device and the QPs belong to whoever holds dp_mu: make the datapath thread park (as when we
// progress inline), take it, and run fn.
template <class Fn>
void RocePair::with_device(Fn&& fn) {
  const bool driving = t_.app_drives;
  if (!driving) {
    t_.app_driving.store(1, std::memory_order_seq_cst);
    t_.kick();
  }
  {
    std::lock_guard lock(t_.dp_mu);
    fn();
  }
  if (!driving) {
    t_.app_driving.store(0, std::memory_order_seq_cst);
    t_.unpark();
  }
}

void RocePair::stop_qp(const char* why) {
  if (qp_stopped_) return;
  qp_stopped_ = true;
  // Stop the QP so that no (re)transmission reads the caller's memory after we return.
  with_device([&] {
    if (!t_.broken.load(std::memory_order_acquire)) endpoint::fail_qp(*t_.net, p_.qpn);
    t_.fail(p_, why);  // (a closed peer keeps its state: it left normally)
  });
}

size_t RocePair::landing_min() const { return t_.landing_min; }

// Moves land_cur_ past the landings whose messages the application has consumed.
void RocePair::skip_consumed_landings() {
  while (land_cur_ < land_req_ && p_.lands[land_cur_ % RocePeer::kLandSlots].end <= head_) ++land_cur_;
}

// Asks for a landing for each listed message big enough, at the stream offsets the messages will have
// (each starts 64-byte aligned, as begin_recv aligns them), while slots are free.
void RocePair::plan_recvs(std::span<const RecvPlan> plan) {
  if (t_.landing_min == SIZE_MAX) return;
  skip_consumed_landings();
  const uint64_t arrived = p_.rx_tail.load(std::memory_order_acquire);
  const uint64_t free = p_.land_free.load(std::memory_order_acquire);
  uint64_t pos = head_;
  bool asked = false;
  for (const RecvPlan& m : plan) {
    if (m.bytes == 0) continue;  // zero-length messages take no place in the stream
    pos = roce::align_up(pos, kAlign);
    // (Not where an earlier plan asked for one already: landings must follow each other in the stream.)
    const uint64_t last_end = land_req_ > 0 ? p_.lands[(land_req_ - 1) % RocePeer::kLandSlots].end : 0;
    if (m.dst != nullptr && m.bytes >= t_.landing_min && pos >= arrived && pos >= last_end &&
        land_req_ - free < RocePeer::kLandSlots) {
      LandingIn& l = p_.lands[land_req_ % RocePeer::kLandSlots];
      l.begin = pos;
      l.end = pos + m.bytes;
      l.dst = m.dst;
      l.mode.store(kLandUndecided, std::memory_order_relaxed);
      p_.land_tail.store(++land_req_, std::memory_order_release);
      asked = true;
    }
    pos += m.bytes;
  }
  if (asked) t_.kick();
}

void RocePair::abandon_landings() {
  if (land_req_ == p_.land_free.load(std::memory_order_acquire)) return;  // none live
  with_device([&] { t_.drop_landings(p_); });
  land_cur_ = land_req_;
}

std::span<const std::byte> RocePair::readable() {
  auto avail = static_cast<int64_t>(p_.rx_tail.load(std::memory_order_acquire) - head_);
  if (avail <= 0) return {};
  // The landing the next bytes belong to, or come before: a landed message's bytes are in its buffer,
  // and the ring holds nothing for them.
  skip_consumed_landings();
  if (land_cur_ < land_req_) {
    const LandingIn& l = p_.lands[land_cur_ % RocePeer::kLandSlots];
    const int mode = l.mode.load(std::memory_order_acquire);
    if (head_ >= l.begin) {
      if (mode == kLandUndecided) return {};  // the datapath has not looked at it yet
      const auto left = static_cast<int64_t>(l.end - head_);
      if (mode == kLandLanded) return {l.dst + (head_ - l.begin), static_cast<size_t>(std::min(avail, left))};
      avail = std::min(avail, left);
    } else {
      avail = std::min(avail, static_cast<int64_t>((mode == kLandRing ? l.end : l.begin) - head_));
    }
  }
  const size_t off = static_cast<size_t>(head_ & (p_.cap - 1));
  return {p_.ring.get() + off, std::min(static_cast<size_t>(avail), p_.cap - off)};
}

size_t RocePair::buffered() {
  const auto avail = static_cast<int64_t>(p_.rx_tail.load(std::memory_order_acquire) - head_);
  return avail > 0 ? static_cast<size_t>(avail) : 0;
}

void RocePair::consume(size_t n) {
  head_ += n;
  p_.app_head.store(head_, std::memory_order_release);
  t_.kick();  // the datapath decides whether a credit is due
}

// ---------------------------------------------------------------- setup

RoceTransport::RoceTransport(int rank, int nranks, std::string host, const std::vector<int>& peers,
                             const RoceOptions& opt, Doorbell& bell)
    : impl_(std::make_unique<Impl>()) {
  Impl& t = *impl_;
  t.rank = rank;
  t.nranks = nranks;
  t.host = std::move(host);
  t.opt = opt;
  t.bell = &bell;
  if (opt.ring_bytes < roce::kMinRingBytes || opt.ring_bytes > roce::kMaxRingBytes ||
      (opt.ring_bytes & (opt.ring_bytes - 1)) != 0)
    throw Error(Status::InvalidArgument, "RoCE ring size " + std::to_string(opt.ring_bytes) +
                                             " is not a power of two in [64 KiB, 256 MiB]");
  rc::Mtu mtu_code;
  if (!rc::mtu_from_bytes(opt.mtu, mtu_code))
    throw Error(Status::InvalidArgument, "RoCE MTU " + std::to_string(opt.mtu) + " is not 256..4096");
  t.ack_timeout = ack_timeout_code(opt.timeout);
  t.keepalive_ns = static_cast<uint64_t>(std::max<int64_t>(100, opt.timeout.count() / 10)) * 1'000'000ull;
  // A write is the unit the receiver sees arrive: small enough to pipeline through a ring of several
  // steps, big enough that per-write costs (completion, immediate, credit) stay small.
  t.max_write = std::min(opt.ring_bytes / 8, opt.write_bytes);

  t.net = open_roce_device(opt, rank);
  const endpoint::DeviceCaps caps = t.net->caps();
  if (opt.cc != "none" && !caps.congestion_control)
    throw Error(Status::InvalidArgument, "RFAB_ROCE_CC=" + opt.cc + " on rank " + std::to_string(rank) + ": " +
                                             t.net->name() + " runs the NIC's own congestion control");
  t.local.selective = caps.selective_recovery && opt.selective;
  t.any_lkey = t.net->any_memory_lkey();
  // Receiving in place needs memory registration cheap enough to do per message (rfab's own engine:
  // a table entry; a verbs device pins pages) and descriptors sent from unregistered memory.
  if (t.any_lkey != 0) t.landing_min = opt.landing_min;
  const udp::Address me = t.net->address();

  const size_t n = std::max<size_t>(1, peers.size());
  t.peers.resize(static_cast<size_t>(nranks));
  t.local.rank = rank;
  t.local.host = t.host;
  t.local.ip = me.ip_string();
  t.local.port = me.port;
  t.local.mtu = t.net->max_mtu(opt.mtu);
  t.local.ring_bytes = opt.ring_bytes;
  std::random_device rd;
  try {
    t.net->create_cqs(n * t.max_send_wr + 16, n * t.max_recv_wr + 16);
  } catch (const endpoint::EndpointError& e) {
    throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + ": " + e.what());
  }
  for (int r : peers) {
    if (r < 0 || r >= nranks || r == rank) throw Error(Status::Internal, "RoCE: bad peer rank " + std::to_string(r));
    auto p = std::make_unique<RocePeer>();
    p->rank = r;
    p->cap = opt.ring_bytes;
    p->staging = alloc_ring(p->cap);
    p->ring = alloc_ring(p->cap);
    p->ctl_in = std::make_unique<std::byte[]>(size_t{t.max_recv_wr} * roce::kLandingBytes);
    endpoint::QpConfig qc;
    qc.cap = {t.max_send_wr, t.max_recv_wr, 1, 1};
    qc.qp_num = static_cast<uint32_t>(r) + 1;  // the engine's QPN names the peer (a verbs device picks its own)
    // Packets in flight per QP: what the receiver's socket buffer absorbs, shared among the peers.
    qc.max_outstanding = std::clamp<uint32_t>(static_cast<uint32_t>(1024 / n), 64, 512);
    if (caps.congestion_control) {
      qc.cc = opt.cc;
      qc.line_bps = opt.line_bps;
    }
    // Selective recovery and spraying hold what overtakes a hole: as much as the sender may have in flight.
    if (t.local.selective) qc.reorder_window = static_cast<uint16_t>(qc.max_outstanding);
    try {
      p->staging_mr = t.net->reg_mr(p->staging.get(), p->cap, rc::kLocalWrite);
      p->ring_mr = t.net->reg_mr(p->ring.get(), p->cap, rc::kLocalWrite | rc::kRemoteWrite);
      p->ctl_mr = t.net->reg_mr(p->ctl_in.get(), size_t{t.max_recv_wr} * roce::kLandingBytes, rc::kLocalWrite);
      p->qpn = endpoint::open_qp(*t.net, qc, rc::kRemoteWrite);
    } catch (const endpoint::EndpointError& e) {
      throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + ", QP to rank " +
                                      std::to_string(r) + ": " + e.what());
    }
    const uint32_t qpn = p->qpn;
    t.rank_of_qpn[qpn] = r;
    t.peers[static_cast<size_t>(r)] = std::move(p);  // before post_recv: errors name the peer
    RocePeer& pr = *t.peers[static_cast<size_t>(r)];
    for (uint32_t i = 0; i < t.max_recv_wr; ++i) t.post_recv(pr);
    pr.psn = rd() & 0xFFFFFF;
    t.local.qps.push_back(RoceEndpoint::Qp{r, qpn, pr.psn, pr.ring_mr.addr, pr.ring_mr.rkey});
    pr.pair = std::make_unique<RocePair>(t, pr);
  }
}

const RoceEndpoint& RoceTransport::local() const { return impl_->local; }
bool RoceTransport::inline_progress() const { return impl_->opt.inline_progress; }

void RoceTransport::connect(const std::vector<RoceEndpoint>& remotes) {
  Impl& t = *impl_;
  for (auto& pp : t.peers) {
    if (!pp) continue;
    RocePeer& p = *pp;
    auto it = std::find_if(remotes.begin(), remotes.end(), [&](const RoceEndpoint& e) { return e.rank == p.rank; });
    if (it == remotes.end())
      throw Error(Status::Internal, "RoCE: no endpoint published by rank " + std::to_string(p.rank));
    const RoceEndpoint& e = *it;
    p.host = e.host;
    const RoceEndpoint::Qp* q = e.qp_to(t.rank);
    if (q == nullptr)
      throw Error(Status::Internal, "RoCE: rank " + std::to_string(p.rank) + " has no QP for rank " +
                                        std::to_string(t.rank));
    if (e.ring_bytes != p.cap)
      throw Error(Status::InvalidArgument, "RoCE ring size differs: rank " + std::to_string(t.rank) + " uses " +
                                               std::to_string(p.cap) + " bytes, rank " + std::to_string(p.rank) +
                                               " " + std::to_string(e.ring_bytes) + " (set RFAB_ROCE_RING_BYTES alike)");
    auto addr = udp::Address::parse(e.ip, e.port);
    if (!addr || addr->v6 != t.net->address().v6)
      throw Error(Status::InvalidArgument, "RoCE: rank " + std::to_string(p.rank) + " publishes address '" + e.ip +
                                               "', unusable from " + t.local.ip + " (IPv4 and IPv6 do not mix)");
    // A rank whose store connection went over loopback publishes 127.0.0.1: unreachable from other hosts.
    const bool lo_local = is_loopback(t.net->address()), lo_remote = is_loopback(*addr);
    if (lo_local != lo_remote) {
      const int culprit = lo_local ? t.rank : p.rank;
      throw Error(Status::InvalidArgument,
                  "RoCE: rank " + std::to_string(culprit) + " uses loopback address " +
                      (lo_local ? t.local.ip : e.ip) + " but rank " + std::to_string(lo_local ? p.rank : t.rank) +
                      " uses " + (lo_local ? e.ip : t.local.ip) +
                      ": set RFAB_ROCE_ADDR or RFAB_ROCE_IFACE on rank " + std::to_string(culprit) +
                      " (or a MASTER_ADDR other hosts can reach)");
    }
    p.addr = *addr;
    p.remote_va = q->ring_va;
    p.remote_rkey = q->rkey;
    endpoint::ConnectParams c;
    c.peer = p.addr;
    c.remote_qpn = q->qpn;
    c.remote_psn = q->psn;
    c.local_psn = p.psn;
    c.mtu = std::min(t.local.mtu, e.mtu);
    c.access = rc::kRemoteWrite;
    c.max_dest_rd_atomic = 1;  // only WRITEs cross a pair
    c.max_rd_atomic = 1;
    c.min_rnr_timer = 1;  // 0.01 ms: the datapath reposts receives at once
    c.ack_timeout = t.ack_timeout;
    // Extensions only between two rfab engines that both offer them (a verbs peer's NIC would take sprayed,
    // reordered packets for loss).
    if (t.local.selective && e.selective) {
      c.loss_recovery = rc::LossRecovery::selective;
      if (t.opt.spray > 1) {
        c.entropy.kind = t.opt.adaptive ? rc::EntropyPolicy::Kind::adaptive : rc::EntropyPolicy::Kind::spray;
        c.entropy.paths = static_cast<uint16_t>(t.opt.spray);
      }
    }
    try {
      endpoint::connect(*t.net, p.qpn, c);
    } catch (const endpoint::EndpointError& err) {
      throw Error(Status::System, "RoCE transport of rank " + std::to_string(t.rank) + ", QP to rank " +
                                      std::to_string(p.rank) + ": " + err.what());
    }
  }
  t.thread = std::thread([&t] { t.run(); });
}

RoceTransport::~RoceTransport() {
  Impl& t = *impl_;
  if (t.thread.joinable()) {
    // Data we accepted in try_send may still be in staging or unacknowledged: deliver it before leaving
    // (a peer may still be receiving our last message), bounded by the timeout; then say goodbye.
    // After an abort nobody waits for our data: the abort notice gets a short grace to reach the peers,
    // and a cut link must not hold the aborting rank for a whole timeout.
    const bool aborting = (t.control_req.load(std::memory_order_acquire) & roce::kAbort) != 0;
    t.control_req.fetch_or(roce::kClose, std::memory_order_acq_rel);
    t.kick();
    constexpr auto kAbortGrace = std::chrono::milliseconds(250);
    auto deadline = Clock::now() + (aborting ? std::min<Clock::duration>(t.opt.timeout, kAbortGrace) : t.opt.timeout);
    while (!t.drained.load(std::memory_order_acquire) && Clock::now() < deadline) {
      t.kick();
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    t.stop.store(true, std::memory_order_release);
    t.kick();
    t.thread.join();
  }
  if (const char* d = env::raw("RFAB_ROCE_DEBUG"); d != nullptr && *d == '1') {
    // Diagnostics on stderr (the datapath thread has stopped: its counters are stable now).
    std::fprintf(stderr, "rfab roce rank %d (%s): writes %llu credits %llu keepalives %llu landings %llu landed bytes %llu\n", t.rank,
                 t.net->name().c_str(), (unsigned long long)t.n_writes.load(), (unsigned long long)t.n_credits.load(),
                 (unsigned long long)t.n_keepalives.load(), (unsigned long long)t.n_landings.load(),
                 (unsigned long long)[&] {
                   uint64_t b = 0;
                   for (const auto& p : t.peers) b += p ? p->landed_bytes.load() : 0;
                   return b;
                 }());
    print_device_counters(stderr, *t.net, t.rank, t.rank_of_qpn);
  }
}

// ---------------------------------------------------------------- Transport interface

Pair* RoceTransport::pair(int peer) {
  if (peer < 0 || peer >= impl_->nranks) return nullptr;
  auto& p = impl_->peers[static_cast<size_t>(peer)];
  return p ? p->pair.get() : nullptr;
}

void RoceTransport::check_peers(std::span<const PeerNeed> needs) {
  for (const PeerNeed& need : needs) {
    if (need.peer < 0 || need.peer >= impl_->nranks) continue;
    auto& pp = impl_->peers[static_cast<size_t>(need.peer)];
    if (!pp) continue;
    const int st = pp->state.load(std::memory_order_acquire);
    if (st == kPeerLive) continue;
    if (st == kPeerAborted) throw Error(Status::Remote, impl_->who(*pp) + " aborted its communicator");
    // Everything it owed us may have arrived before it left: not an error.
    if (!need.sends_pending && pp->pair->buffered() >= need.recv_bytes) continue;
    if (st == kPeerClosed)
      throw Error(Status::Remote, impl_->who(*pp) + " destroyed its communicator while a peer waited on it");
    throw Error(Status::Remote, pp->error);
  }
}

bool RoceTransport::progress() {
  Impl& t = *impl_;
  if (!t.opt.inline_progress || t.broken.load(std::memory_order_acquire)) return false;
  if (!t.app_drives) {
    t.app_drives = true;
    t.app_driving.store(1, std::memory_order_seq_cst);
    t.kick();  // a datapath thread asleep in epoll holds dp_mu: wake it so that it parks
  }
  std::unique_lock lock(t.dp_mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    // The datapath thread holds it until it has seen app_driving and parks: let it have this CPU for
    // that rather than spinning against it (on a busy machine it may wait for a core otherwise).
    sched_yield();
    return false;
  }
  try {
    return t.pass(t.net->now());
  } catch (const std::exception& e) {
    t.device_failed(e);
    return true;
  }
}

void RoceTransport::stop_progress(bool will_sleep) {
  Impl& t = *impl_;
  if (!t.app_drives) return;
  t.app_drives = false;
  t.app_driving.store(0, std::memory_order_seq_cst);
  if (will_sleep) t.unpark();  // after a call, the parked datapath thread looks again by itself soon
}

void RoceTransport::announce_abort() {
  impl_->control_req.fetch_or(roce::kAbort, std::memory_order_acq_rel);
  impl_->kick();
}

RoceTransport::Stats RoceTransport::stats() const {
  Stats s;
  s.writes = impl_->n_writes.load();
  s.credits = impl_->n_credits.load();
  s.keepalives = impl_->n_keepalives.load();
  s.landings = impl_->n_landings.load();
  for (const auto& p : impl_->peers)
    if (p) s.landed_bytes += p->landed_bytes.load();
  return s;
}

// ---------------------------------------------------------------- helpers used by both threads

void RoceTransport::Impl::kick() {
  // Only when the datapath thread announced it may sleep: otherwise it sees our store on its next pass.
  // The fence orders our caller's store (offset) before this load (Dekker with the datapath's
  // store of dp_sleeping before its re-check): one of the two sides always sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!dp_sleeping.load(std::memory_order_seq_cst) || !dp_sleeping.exchange(false, std::memory_order_seq_cst))
    return;
  net->wake();
}

std::string RoceTransport::Impl::who(const RocePeer& p) const {
  return "rank " + std::to_string(p.rank) + " (host " + (p.host.empty() ? std::string("?") : p.host) + ", RoCE " +
         p.addr.to_string() + ")";
}

}  // namespace rfab::coll
