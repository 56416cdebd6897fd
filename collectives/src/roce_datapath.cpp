// The RoCE transport's datapath thread: the only thread that touches the device (rfab's engine over UDP,
// or verbs), the QPs and the CQs. Each pass: turn what the application published (staging filled, ring consumed, abort/close
// requested) into work requests, let the driver move packets, and turn completions into published offsets
// plus a Doorbell ring. With nothing to do it sleeps in the device (epoll) until a packet, a QP timer, a
// keep-alive, or a wake-up from the application thread.
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>

#include "rfab/collectives/types.hpp"
#include "roce_impl.hpp"
#include "roce_window.hpp"

namespace rfab::coll {

namespace {
constexpr uint64_t kMaxSleepNs = 20'000'000;  // re-check stop / keep-alives at least this often
constexpr uint64_t kParkNs = 1'000'000;       // see park()
}  // namespace

void RoceTransport::Impl::post_recv(RocePeer& p) {
  // WRITE WITH IMMEDIATE places its data where the RETH says; the buffer takes a SEND's payload (a
  // landing descriptor). WQEs complete in order, so their buffers are used in turn.
  const uint64_t slot = p.recv_posted++ % max_recv_wr;
  rc::Sge sge{reinterpret_cast<uint64_t>(p.ctl_in.get() + slot * roce::kLandingBytes),
              static_cast<uint32_t>(roce::kLandingBytes), p.ctl_mr.lkey};
  rc::RecvWr wr;
  wr.wr_id = slot;
  wr.sg_list = {&sge, 1};
  rc::Status s = net->post_recv(p.qpn, wr);
  if (!s.ok() && net->qp_state(p.qpn) != rc::QpState::err)
    throw Error(Status::Internal, std::string("RoCE post_recv: ") + s.what);
}

// A zero-length WRITE WITH IMMEDIATE: credits and control messages (they consume a receive WQE, so the
// peer's datapath sees them as completions).
bool RoceTransport::Impl::post_imm(RocePeer& p, uint32_t imm, uint64_t wr_id) {
  if (p.outstanding >= max_send_wr) return false;
  rc::SendWr wr;
  wr.wr_id = wr_id;
  wr.opcode = rc::WrOpcode::rdma_write_with_imm;
  wr.imm = imm;
  wr.rdma.remote_addr = p.remote_va;
  wr.rdma.rkey = p.remote_rkey;
  if (!net->post_send(p.qpn, wr).ok()) return false;
  ++p.outstanding;
  return true;
}

// Receiving side of the landings: register and announce what the application asked for, and retire
// what it has consumed (`head`). False when out of send WRs (the rest waits for the next pass).
bool RoceTransport::Impl::serve_landings(RocePeer& p, uint64_t head) {
  bool work = false;
  while (p.land_retired < p.land_handled) {
    LandingIn& l = p.lands[p.land_retired % RocePeer::kLandSlots];
    if (l.desc_in_flight || head < l.end) break;
    if (l.registered) net->dereg_mr(l.key);
    l.registered = false;
    p.land_free.store(++p.land_retired, std::memory_order_release);
    work = true;
  }
  const uint64_t tail = p.land_tail.load(std::memory_order_acquire);
  while (p.land_handled < tail && p.outstanding < max_send_wr) {
    const uint64_t i = p.land_handled;
    LandingIn& l = p.lands[i % RocePeer::kLandSlots];
    if (p.arrived > l.begin) {  // part of it is in the ring already
      l.mode.store(kLandRing, std::memory_order_release);
      if (p.land_decided == i) ++p.land_decided;
    } else {
      l.key = net->reg_mr(l.dst, l.end - l.begin, rc::kLocalWrite | rc::kRemoteWrite);
      l.registered = true;
      std::byte* desc = p.land_desc.data() + (i % RocePeer::kLandSlots) * roce::kLandingBytes;
      roce::encode_landing({l.begin, l.end, l.key.addr, l.key.rkey}, desc);
      rc::Sge sge{reinterpret_cast<uint64_t>(desc), static_cast<uint32_t>(roce::kLandingBytes), any_lkey};
      rc::SendWr wr;
      wr.wr_id = make_wr_id(kWrLanding, i);
      wr.opcode = rc::WrOpcode::send_with_imm;
      wr.sg_list = {&sge, 1};
      wr.imm = roce::make_imm(roce::ImmKind::Control, roce::kLanding);
      if (!net->post_send(p.qpn, wr).ok()) {  // QP in error: its completions say why
        net->dereg_mr(l.key);
        l.registered = false;
        break;
      }
      ++p.outstanding;
      l.desc_in_flight = true;
      n_landings.fetch_add(1, std::memory_order_relaxed);
    }
    ++p.land_handled;
    work = true;
  }
  return work;
}

// A write into our ring (Data) or into a landing (Landed) ended at `arrived`: every announced landing
// it reaches into is now known to be where its message went.
void RoceTransport::Impl::decide_landings(RocePeer& p, uint64_t arrived, bool landed) {
  while (p.land_decided < p.land_handled) {
    LandingIn& l = p.lands[p.land_decided % RocePeer::kLandSlots];
    if (l.begin >= arrived) break;
    l.mode.store(landed ? kLandLanded : kLandRing, std::memory_order_release);
    ++p.land_decided;
  }
}

// The peer announced a landing: our writes of that stream range go to its buffer (if it came in time).
void RoceTransport::Impl::take_landing(RocePeer& p, const rc::WorkCompletion& wc) {
  const uint64_t slot = wc.wr_id % max_recv_wr;
  const auto d = wc.opcode == rc::WcOpcode::recv
                     ? roce::decode_landing(p.ctl_in.get() + slot * roce::kLandingBytes, wc.byte_len)
                     : std::nullopt;
  if (!d) return fail(p, "RoCE: malformed landing descriptor (" + std::to_string(wc.byte_len) + " bytes)");
  if (!p.routes.push(*d))
    fail(p, "RoCE: landing descriptor out of stream order or beyond " +
                std::to_string(roce::LandingRoutes::kCapacity) + " outstanding");
}

void RoceTransport::Impl::drop_landings(RocePeer& p) {
  const uint64_t tail = p.land_tail.load(std::memory_order_acquire);
  for (uint64_t i = p.land_retired; i < p.land_handled; ++i) {
    LandingIn& l = p.lands[i % RocePeer::kLandSlots];
    if (l.registered && !broken.load(std::memory_order_acquire)) net->dereg_mr(l.key);
    l.registered = false;
    l.desc_in_flight = false;
  }
  p.land_handled = p.land_decided = p.land_retired = tail;
  p.land_free.store(tail, std::memory_order_release);
}

void RoceTransport::Impl::fail(RocePeer& p, const std::string& why) {
  if (p.state.load(std::memory_order_relaxed) != kPeerLive) return;
  p.error = who(p) + ": " + why;
  p.state.store(kPeerFailed, std::memory_order_release);
  bell->ring();
}

// Is there something a pass could do right now? Checked after announcing sleep, so that a store the
// application made just before is never slept on.
bool RoceTransport::Impl::pending() const {
  if (app_driving.load(std::memory_order_seq_cst) != 0) return true;  // wake up to park, releasing dp_mu
  const uint32_t ctl = control_req.load(std::memory_order_seq_cst);
  for (const auto& pp : peers) {
    if (!pp || pp->state.load(std::memory_order_relaxed) == kPeerFailed) continue;
    const RocePeer& p = *pp;
    if ((ctl & ~p.controls_sent) != 0) return true;
    if (p.outstanding >= max_send_wr) continue;
    if (p.app_tail.load(std::memory_order_seq_cst) > p.posted) return true;
    const uint64_t head = p.app_head.load(std::memory_order_seq_cst);
    if (roce::credit_due(head, p.reported, p.arrived, p.cap)) return true;
    if (p.land_tail.load(std::memory_order_seq_cst) > p.land_handled) return true;
    if (p.land_retired < p.land_handled) {
      const LandingIn& l = p.lands[p.land_retired % RocePeer::kLandSlots];
      if (!l.desc_in_flight && head >= l.end) return true;
    }
  }
  return stop.load(std::memory_order_seq_cst);
}

bool RoceTransport::Impl::service(uint64_t now) {
  bool work = false;
  bool all_drained = true;
  const uint32_t ctl = control_req.load(std::memory_order_acquire);
  for (auto& pp : peers) {
    if (!pp) continue;
    RocePeer& p = *pp;
    if (p.state.load(std::memory_order_relaxed) == kPeerFailed) continue;
    // Data: everything produced, in writes that never cross the ring's end, from staging or (spans sent
    // by reference) from the application's memory. app_tail is read first: every span below it is
    // published already.
    const uint64_t avail = p.app_tail.load(std::memory_order_acquire);
    const uint64_t spans = p.ref_tail.load(std::memory_order_acquire);
    // Spans posted completely free their slots at once (the WRs hold the addresses now), and the
    // application hears of it: it may be asleep waiting for a slot.
    auto retire_spans = [&] {
      const uint64_t was = p.ref_head;
      while (p.ref_head < spans && p.posted >= p.refs[p.ref_head % RocePeer::kRefSlots].end) ++p.ref_head;
      if (p.ref_head == was) return;
      p.ref_posted.store(p.ref_head, std::memory_order_release);
      bell->ring();
    };
    retire_spans();
    while (p.outstanding < max_send_wr) {
      uint64_t end = avail;
      const std::byte* src = p.staging.get() + (p.posted & (p.cap - 1));
      uint32_t lkey = p.staging_mr.lkey;
      if (p.ref_head < spans) {
        const RefSpan& span = p.refs[p.ref_head % RocePeer::kRefSlots];
        if (p.posted >= span.skip_from && p.posted < span.begin) p.posted = span.begin;  // padding: skip
        if (p.posted >= span.begin) {
          end = span.end;
          src = span.src + (p.posted - span.begin);
          lkey = any_lkey;
          // The spans of one message are its chunks (32-128 KiB), back to back in memory and stream: one
          // write may take several, as it takes several staged chunks (a write per chunk cost 15% at 512 KiB).
          for (uint64_t j = p.ref_head + 1; j < spans && end - p.posted < max_write; ++j) {
            const RefSpan& prev = p.refs[(j - 1) % RocePeer::kRefSlots];
            const RefSpan& next = p.refs[j % RocePeer::kRefSlots];
            if (next.begin != prev.end || next.src != prev.src + (prev.end - prev.begin)) break;
            end = next.end;
          }
        } else {
          end = span.skip_from;  // staged bytes before the span
        }
      }
      const roce::LandingRoutes::Route to = p.routes.route(p.posted, roce::next_write(p.posted, end, p.cap, max_write));
      const size_t len = to.len;
      if (len == 0) break;
      const size_t off = static_cast<size_t>(p.posted & (p.cap - 1));
      rc::Sge sge{reinterpret_cast<uint64_t>(src), static_cast<uint32_t>(len), lkey};
      rc::SendWr wr;
      wr.wr_id = make_wr_id(kWrData, p.posted + len);
      wr.opcode = rc::WrOpcode::rdma_write_with_imm;
      wr.sg_list = {&sge, 1};
      if (to.land != nullptr) {
        wr.imm = roce::make_imm(roce::ImmKind::Landed, p.posted + len);
        wr.rdma.remote_addr = to.land->va + (p.posted - to.land->begin);
        wr.rdma.rkey = to.land->rkey;
      } else {
        wr.imm = roce::make_imm(roce::ImmKind::Data, p.posted + len);
        wr.rdma.remote_addr = p.remote_va + off;
        wr.rdma.rkey = p.remote_rkey;
      }
      if (!net->post_send(p.qpn, wr).ok()) break;  // QP in error: its completions say why
      ++p.outstanding;
      p.posted += len;
      p.last_post = now;
      n_writes.fetch_add(1, std::memory_order_relaxed);
      work = true;
      retire_spans();
    }
    // Credit: the ring space the application freed.
    const uint64_t head = p.app_head.load(std::memory_order_acquire);
    work |= serve_landings(p, head);
    if (roce::credit_due(head, p.reported, p.arrived, p.cap) &&
        post_imm(p, roce::make_imm(roce::ImmKind::Credit, head), make_wr_id(kWrCredit, 0))) {
      p.reported = head;
      p.last_post = now;
      n_credits.fetch_add(1, std::memory_order_relaxed);
      work = true;
    }
    // Abort / close, once each, after the data so a closing rank's last message goes first.
    for (uint32_t bit : {uint32_t{roce::kAbort}, uint32_t{roce::kClose}}) {
      if ((ctl & bit) == 0 || (p.controls_sent & bit) != 0) continue;
      if (p.state.load(std::memory_order_relaxed) != kPeerLive) continue;  // it has left already
      if (bit == roce::kClose && p.posted < avail) continue;
      if (post_imm(p, roce::make_imm(roce::ImmKind::Control, bit), make_wr_id(kWrControl, bit))) {
        p.controls_sent |= bit;
        p.last_post = now;
        work = true;
      }
    }
    // Keep-alive: an idle QP still has to notice a dead peer (retry_exc_err) when we only wait to receive.
    if (p.outstanding == 0 && now - p.last_post > keepalive_ns) {
      rc::SendWr wr;
      wr.wr_id = make_wr_id(kWrKeepalive, 0);
      wr.opcode = rc::WrOpcode::rdma_write;
      wr.rdma.remote_addr = p.remote_va;
      wr.rdma.rkey = p.remote_rkey;
      if (net->post_send(p.qpn, wr).ok()) {
        ++p.outstanding;
        n_keepalives.fetch_add(1, std::memory_order_relaxed);
      }
      p.last_post = now;
    }
    // Drained: the peer has everything we accepted for it and our goodbye, or it left first (then it
    // needed nothing more from us, and its QP will not acknowledge anything again).
    const bool closed = (ctl & roce::kClose) == 0 || (p.controls_sent & roce::kClose) != 0;
    if (!(p.posted == avail && p.outstanding == 0 && closed) && p.state.load(std::memory_order_relaxed) == kPeerLive)
      all_drained = false;
  }
  if ((ctl & roce::kClose) != 0 && all_drained) drained.store(true, std::memory_order_release);
  return work;
}

bool RoceTransport::Impl::poll_completions() {
  std::array<rc::WorkCompletion, 64> wcs;
  bool any = false;
  auto peer_of = [&](const rc::WorkCompletion& wc) -> RocePeer* {
    const auto it = rank_of_qpn.find(wc.qp_num);
    return it != rank_of_qpn.end() ? peers[static_cast<size_t>(it->second)].get() : nullptr;
  };
  for (size_t n; (n = net->poll_send(wcs)) > 0;) {
    any = true;
    bool ring = false;
    for (size_t i = 0; i < n; ++i) {
      const rc::WorkCompletion& wc = wcs[i];
      RocePeer* p = peer_of(wc);
      if (p == nullptr) continue;
      if (p->outstanding > 0) --p->outstanding;
      if (wc.status != rc::WcStatus::success) {
        if (wc.status == rc::WcStatus::retry_exc_err)
          fail(*p, std::string("RoCE retry_exc_err: no acknowledgement after 8 retransmissions (") +
                       std::to_string(rc::ack_timeout_ns(ack_timeout) / 1'000'000) +
                       " ms each): the rank died or the link to it is down");
        else if (wc.status != rc::WcStatus::wr_flush_err)
          fail(*p, std::string("RoCE send completion error: ") + rc::to_string(wc.status));
        else
          fail(*p, "RoCE queue pair flushed (connection in error)");
        continue;
      }
      if (wr_kind(wc.wr_id) == kWrLanding) {
        p->lands[wr_value(wc.wr_id) % RocePeer::kLandSlots].desc_in_flight = false;
      } else if (wr_kind(wc.wr_id) == kWrData) {
        p->acked = std::max(p->acked, wr_value(wc.wr_id));
        p->acked_pub.store(p->acked, std::memory_order_release);
        p->release.store(roce::released(p->credit, p->acked), std::memory_order_release);
        ring = true;
      }
    }
    if (ring) bell->ring();
  }
  for (size_t n; (n = net->poll_recv(wcs)) > 0;) {
    any = true;
    for (size_t i = 0; i < n; ++i) {
      const rc::WorkCompletion& wc = wcs[i];
      RocePeer* p = peer_of(wc);
      if (p == nullptr) continue;
      if (wc.status != rc::WcStatus::success) {
        if (wc.status != rc::WcStatus::wr_flush_err)
          fail(*p, std::string("RoCE receive completion error: ") + rc::to_string(wc.status));
        continue;
      }
      const uint32_t v = roce::imm_value(wc.imm);
      const roce::ImmKind kind = roce::imm_kind(wc.imm);
      if (kind == roce::ImmKind::Control && v == roce::kLanding) take_landing(*p, wc);  // before its buffer is reposted
      post_recv(*p);
      switch (kind) {
        case roce::ImmKind::Data:
        case roce::ImmKind::Landed: {
          const uint64_t was = p->arrived;
          p->arrived = roce::extend(p->arrived, v);
          decide_landings(*p, p->arrived, kind == roce::ImmKind::Landed);
          if (kind == roce::ImmKind::Landed) p->landed_bytes.fetch_add(p->arrived - was, std::memory_order_relaxed);
          p->rx_tail.store(p->arrived, std::memory_order_release);
          break;
        }
        case roce::ImmKind::Credit:
          p->credit = roce::extend(p->credit, v);
          p->release.store(roce::released(p->credit, p->acked), std::memory_order_release);
          break;
        case roce::ImmKind::Control:
          if (v == roce::kLanding) break;
          if (p->state.load(std::memory_order_relaxed) == kPeerLive)
            p->state.store(v == roce::kAbort ? kPeerAborted : kPeerClosed, std::memory_order_release);
          break;
        default:
          fail(*p, "RoCE: unknown immediate " + std::to_string(wc.imm));
      }
    }
    bell->ring();
  }
  return any;
}

bool RoceTransport::Impl::pass(uint64_t now) {
  bool work = service(now);
  work |= net->progress(0);
  work |= poll_completions();
  return work;
}

// The datapath itself broke (a socket error): every peer is unreachable from here.
void RoceTransport::Impl::device_failed(const std::exception& e) {
  broken.store(true, std::memory_order_release);
  for (auto& pp : peers)
    if (pp) fail(*pp, std::string("RoCE datapath of rank ") + std::to_string(rank) + " failed: " + e.what());
  drained.store(true, std::memory_order_release);
}

void RoceTransport::Impl::park() {
  dp_parked.store(true, std::memory_order_seq_cst);
  // Bounded: when a call ends, the application clears app_driving without waking us (the next call
  // usually starts within microseconds and would need us parked again), so we look again after
  // kParkNs. Between calls, packets wait at most that long (ACK timeouts are >= 67 ms); shorter
  // parks cost a context switch each on a core the application is using (200 us: ~10% of the CPU).
  timespec ts{0, static_cast<long>(kParkNs)};
  if (app_driving.load(std::memory_order_seq_cst) != 0)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&app_driving), FUTEX_WAIT_PRIVATE, 1, &ts, nullptr, 0);
  dp_parked.store(false, std::memory_order_relaxed);
}

void RoceTransport::Impl::unpark() {
  if (dp_parked.load(std::memory_order_seq_cst))
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&app_driving), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void RoceTransport::Impl::run() {
  pthread_setname_np(pthread_self(), "rfab-roce");
  uint64_t idle_since = 0;  // 0: busy
  try {
    while (!stop.load(std::memory_order_acquire) && !broken.load(std::memory_order_acquire)) {
      if (app_driving.load(std::memory_order_acquire) != 0) {
        park();
        idle_since = 0;
        continue;
      }
      std::unique_lock lock(dp_mu, std::try_to_lock);
      if (!lock.owns_lock()) {  // the application is finishing a pass of its own
        std::this_thread::yield();
        continue;
      }
      const uint64_t now = net->now();
      if (pass(now)) {
        idle_since = 0;
        continue;
      }
      // Poll a little before sleeping (each pass is a non-blocking recvmmsg): an answer often comes back
      // within microseconds, while waking from epoll can cost tens of microseconds (more in a guest).
      if (idle_since == 0) idle_since = now;
      if (now - idle_since < opt.spin_ns) continue;
      dp_sleeping.store(true, std::memory_order_seq_cst);
      if (pending()) {
        dp_sleeping.store(false, std::memory_order_relaxed);
        continue;
      }
      uint64_t wait = kMaxSleepNs;
      for (const auto& pp : peers) {
        if (!pp || pp->outstanding != 0) continue;
        const uint64_t due = pp->last_post + keepalive_ns;
        wait = std::min(wait, due > now ? due - now + 1 : 1);
      }
      net->progress(wait);
      dp_sleeping.store(false, std::memory_order_seq_cst);
      idle_since = 0;
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(dp_mu);  // the application may be in a pass of its own
    device_failed(e);
  }
  while (!stop.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace rfab::coll
