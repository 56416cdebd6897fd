#include "rfab/collectives/exchange.hpp"

#include <immintrin.h>
#include <sched.h>

#include <algorithm>
#include <cstring>

namespace rfab::coll {

Pair* EngineEnv::pair(int peer) const {
  for (Transport* t : transports)
    if (Pair* p = t->pair(peer)) return p;
  return nullptr;
}

Exchange::Exchange(const EngineEnv& env, std::string what, size_t elem, ReduceFn fn)
    : env_(env), what_(std::move(what)), elem_(elem == 0 ? 1 : elem), fn_(fn) {
  ops_.reserve(8);
  chans_.reserve(4);
}

int Exchange::add(Op op) {
  if (op.gate >= static_cast<int>(ops_.size()))
    throw Error(Status::Internal, what_ + ": op gated on a later op");
  if (env_.recorder != nullptr) {  // recording: no transport, no channel
    ops_.push_back(op);
    return static_cast<int>(ops_.size()) - 1;
  }
  auto it = std::find_if(chans_.begin(), chans_.end(), [&](const Channel& c) { return c.peer == op.peer; });
  if (it == chans_.end()) {
    Pair* p = env_.pair(op.peer);
    if (p == nullptr)
      throw Error(Status::Internal, what_ + ": no transport reaches " + peer_name(op.peer));
    chans_.push_back(Channel{op.peer, p, std::pmr::vector<int>(&res_), std::pmr::vector<int>(&res_)});
    it = chans_.end() - 1;
  }
  int idx = static_cast<int>(ops_.size());
  (op.kind == Kind::Send ? it->sends : it->recvs).push_back(idx);
  op.pair = it->pair;
  ops_.push_back(op);
  return idx;
}

int Exchange::send(int peer, const void* src, size_t bytes, int gate) {
  return add(Op{Kind::Send, peer, static_cast<const std::byte*>(src), nullptr, bytes, gate});
}
int Exchange::recv(int peer, void* dst, size_t bytes, int gate) {
  return add(Op{Kind::Recv, peer, nullptr, static_cast<std::byte*>(dst), bytes, gate});
}
int Exchange::recv_reduce(int peer, const void* local, void* dst, size_t bytes, int gate) {
  if (fn_ == nullptr) throw Error(Status::Internal, what_ + ": recv_reduce without a reduction");
  return add(Op{Kind::RecvReduce, peer, static_cast<const std::byte*>(local), static_cast<std::byte*>(dst), bytes,
                gate});
}

std::string Exchange::peer_name(int r) const {
  std::string s = "rank " + std::to_string(r);
  if (r >= 0 && static_cast<size_t>(r) < env_.hosts.size()) s += " on host " + env_.hosts[static_cast<size_t>(r)];
  return s;
}

// Moves the current send of one channel forward; zero-length ops complete without touching the pair.
bool Exchange::step_send(Channel& c) {
  bool moved = false;
  while (c.next_send < c.sends.size()) {
    Op& op = ops_[static_cast<size_t>(c.sends[c.next_send])];
    if (op.done < op.bytes) {
      if (!c.send_begun) {
        c.pair->begin_send_msg(op.bytes);
        c.send_begun = true;
        op.by_ref = c.pair->can_send_ref(op.bytes);
        if (op.by_ref) {
          ++c.refs_held;
          ++refs_held_;
        }
      }
      size_t limit = op.gate >= 0 ? std::min(op.bytes, ops_[static_cast<size_t>(op.gate)].done) : op.bytes;
      if (limit <= op.done) break;
      size_t want = std::min(limit - op.done, env_.chunk);
      if (want < op.bytes - op.done) want -= want % elem_;  // whole elements so receivers can reduce them
      if (want == 0) break;
      size_t n;
      if (op.by_ref) {
        uint64_t pos = 0;
        n = c.pair->try_send_ref(op.src + op.done, want, elem_, &pos);
        if (n > 0 && op.done == 0) op.ref_pos = pos;
        if (n > 0 && pos != op.ref_pos + op.done)  // release tracking assumes one contiguous stream range
          throw Error(Status::Internal, what_ + ": transport split a message sent by reference");
      } else {
        n = c.pair->try_send(op.src + op.done, want, elem_);
      }
      if (n % elem_ != 0 && op.done + n < op.bytes)
        throw Error(Status::Internal, what_ + ": transport accepted a partial element");
      op.done += n;
      moved |= n > 0;
      if (op.done < op.bytes) break;
    }
    --remaining_;
    ++c.next_send;
    c.send_begun = false;
    moved = true;
  }
  return moved;
}

bool Exchange::step_recv(Channel& c) {
  bool moved = false;
  while (c.next_recv < c.recvs.size()) {
    Op& op = ops_[static_cast<size_t>(c.recvs[c.next_recv])];
    if (op.done < op.bytes) {
      if (!c.recv_begun) {
        c.pair->begin_recv_msg(op.bytes);
        c.recv_begun = true;
      }
      size_t limit = op.gate >= 0 ? std::min(op.bytes, ops_[static_cast<size_t>(op.gate)].done) : op.bytes;
      if (limit <= op.done) break;
      auto view = c.pair->readable();
      size_t n = std::min({view.size(), limit - op.done, env_.chunk});
      if (refs_held_ > 0) n = clear_of_refs(op.dst + op.done, n);
      if (op.kind == Kind::RecvReduce) n -= n % elem_;
      if (n == 0) break;
      if (op.kind == Kind::Recv) {
        if (view.data() != op.dst + op.done) std::memcpy(op.dst + op.done, view.data(), n);  // else landed
      } else {
        fn_(op.dst + op.done, op.src + op.done, view.data(), n / elem_);
      }
      c.pair->consume(n);
      op.done += n;
      moved = true;
      if (op.done < op.bytes) break;
    }
    --remaining_;
    ++c.next_recv;
    c.recv_begun = false;
    moved = true;
  }
  return moved;
}

bool Exchange::pass() {
  bool moved = refs_held_ > 0 && release_refs();
  for (auto& c : chans_) {
    moved |= step_recv(c);
    moved |= step_send(c);
  }
  return moved;
}

// Marks the sends by reference that the transport has delivered completely.
bool Exchange::release_refs() {
  bool moved = false;
  for (auto& c : chans_) {
    if (c.refs_held == 0) continue;
    const uint64_t through = c.pair->sent_through();
    for (int i : c.sends) {
      Op& op = ops_[static_cast<size_t>(i)];
      if (!op.by_ref || op.ref_free || op.done < op.bytes || through < op.ref_pos + op.bytes) continue;
      op.ref_free = true;
      --c.refs_held;
      --refs_held_;
      moved = true;
    }
  }
  return moved;
}

// How much of [dst, dst + n) a receive may write now: not into bytes a send by reference has handed to its
// transport and the transport may still read (a resend after a loss would send the new contents).
size_t Exchange::clear_of_refs(const std::byte* dst, size_t n) const {
  for (const auto& c : chans_) {
    if (c.refs_held == 0) continue;
    const uint64_t through = c.pair->sent_through();
    for (int i : c.sends) {
      const Op& op = ops_[static_cast<size_t>(i)];
      if (!op.by_ref || op.ref_free || op.done == 0) continue;
      const size_t delivered = through <= op.ref_pos ? 0 : std::min<uint64_t>(through - op.ref_pos, op.done);
      const std::byte* lo = op.src + delivered;  // [lo, hi): handed over, maybe still read
      const std::byte* hi = op.src + op.done;
      if (lo >= hi || hi <= dst || lo >= dst + n) continue;
      if (lo <= dst) return 0;
      n = static_cast<size_t>(lo - dst);
    }
  }
  return n;
}

// run() is leaving with an error: no transport may go on reading the caller's buffers after it returns,
// nor writing into them.
void Exchange::abandon_refs() {
  for (auto& c : chans_)
    if (c.planned) c.pair->abandon_landings();
  if (refs_held_ == 0) return;
  release_refs();
  for (auto& c : chans_)
    if (c.refs_held > 0) c.pair->abandon_refs();
}

// May the peer write this receive straight into its buffer? Only a plain receive, not gated, whose
// buffer no other op of the call reads or writes meanwhile: the peer's bytes may land at any time after
// the call starts. A send gated on this very receive is fine (it reads only what has been received), and
// so are earlier ops when the algorithm promised that the received bytes follow them
// (receives_follow_earlier_ops): a resend of a send by reference may then read landed bytes, but only
// for packets the peer has had already, which it drops as duplicates.
bool Exchange::may_land(int idx) const {
  const Op& r = ops_[static_cast<size_t>(idx)];
  if (r.kind != Kind::Recv || r.gate >= 0 || r.bytes == 0) return false;
  const std::byte* lo = r.dst;
  const std::byte* hi = r.dst + r.bytes;
  auto overlaps = [&](const std::byte* p, size_t n) { return p != nullptr && n > 0 && p < hi && lo < p + n; };
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (static_cast<int>(i) == idx) continue;
    const Op& o = ops_[i];
    if (o.kind == Kind::Send && o.gate == idx) continue;
    if (follows_earlier_ && static_cast<int>(i) < idx) continue;
    if (overlaps(o.src, o.bytes) || overlaps(o.dst, o.bytes)) return false;
  }
  return true;
}

// Tells each pair the receives to come, with the buffers it may have the peer write straight into.
void Exchange::plan_landings() {
  std::array<Pair::RecvPlan, 16> plan;
  for (auto& c : chans_) {
    const size_t min = c.pair->landing_min();
    if (min == SIZE_MAX) continue;
    size_t n = 0;
    bool any = false;
    for (size_t i = 0; i < c.recvs.size() && n < plan.size(); ++i) {
      const int idx = c.recvs[i];
      const bool land = ops_[static_cast<size_t>(idx)].bytes >= min && may_land(idx);
      plan[n++] = {ops_[static_cast<size_t>(idx)].bytes, land ? ops_[static_cast<size_t>(idx)].dst : nullptr};
      any |= land;
    }
    if (!any) continue;
    c.pair->plan_recvs({plan.data(), n});
    c.planned = true;
  }
}

void Exchange::fail_timeout() {
  std::string waiting;
  for (const auto& c : chans_) {
    if (c.next_send < c.sends.size() || c.next_recv < c.recvs.size() || c.refs_held > 0) {
      if (!waiting.empty()) waiting += ", ";
      waiting += peer_name(c.peer);
    }
  }
  auto secs = std::chrono::duration<double>(env_.timeout).count();
  throw Error(Status::Timeout, what_ + ": no progress for " + std::to_string(secs).substr(0, 5) +
                                   " s (RFAB_TIMEOUT, or the communicator's configured timeout) waiting for " +
                                   waiting);
}

void Exchange::run() {
  if (env_.recorder != nullptr) {
    std::vector<RecordedOp> rec;
    rec.reserve(ops_.size());
    for (const Op& op : ops_) rec.push_back(RecordedOp{op.kind == Kind::Send, op.peer, op.bytes, op.gate});
    env_.recorder->exchange(rec.data(), rec.size());
    return;
  }
  try {
    run_ops();
  } catch (...) {
    abandon_refs();
    throw;
  }
}

void Exchange::run_ops() {
  remaining_ = ops_.size();
  plan_landings();
  std::vector<PeerNeed> peers;
  // Clocks are read only once the call waits (a clock read can cost tens of ns under a hypervisor, a
  // tiny allreduce a few hundred): the deadline starts at the first sleep, the spin after its first 64 polls.
  Clock::time_point last_progress{};
  bool moved_since_check = false;
  // Waiting goes spin (by time: pause costs differ by CPU) -> a few yields -> futex sleeps in slices.
  // The spin is pure polling: no syscall in it. A kernel entry can cost microseconds in a guest (every one
  // goes through the hypervisor), and a message arriving during a sched_yield() would wait for it.
  // Ranks that share a core with their peer (local ranks > cores) get a 2 us spin and reach the yields
  // and the futex quickly, so oversubscription still progresses.
  int spins = 0, yields = 0;
  Clock::time_point spin_until{};
  constexpr auto kSlice = std::chrono::milliseconds(2);
  // Transports that progress from this thread (RoCE) are driven in the spin and handed back to their
  // own thread before this one sleeps or returns (also when it throws).
  bool driving = false;
  struct StopDriving {
    const EngineEnv& env;
    bool& driving;
    ~StopDriving() { stop(false); }
    void stop(bool will_sleep) {
      if (!driving) return;
      for (Transport* t : env.transports) t->stop_progress(will_sleep);
      driving = false;
    }
  } stop_driving{env_, driving};
  auto drive = [&] {
    bool moved = false;
    for (Transport* t : env_.transports) moved |= t->progress();
    driving = true;
    return moved;
  };
  while (remaining_ > 0 || refs_held_ > 0) {
    if (pass()) {
      spins = yields = 0;
      moved_since_check = true;
      continue;
    }
    if (spins >= 0) {
      const bool drives = env_.drive_spin.count() > 0;
      if (drives) {
        if (drive()) {  // packets moved: what we wait for may be next
          spins = 0;
          continue;
        }
        // A drive is a system call or more, so reading the clock each time costs nothing extra, and
        // neither does a yield: if the peer we wait for was scheduled on our core, it runs now instead
        // of after our whole spin (ranks in namespaces or containers are not pinned apart).
        sched_yield();
        ++spins;
      } else {
        _mm_pause();
        if ((++spins & 63) != 0) continue;
      }
      auto now = Clock::now();
      if (spins == (drives ? 1 : 64)) spin_until = now + (drives ? env_.drive_spin : env_.spin);
      if (now < spin_until) continue;
      spins = -1;  // spin phase over
    }
    stop_driving.stop(true);
    if (yields < 4) {  // let a peer sharing our core run before paying for a futex sleep
      ++yields;
      sched_yield();
      continue;
    }
    if (env_.abort_flag != nullptr && env_.abort_flag->load(std::memory_order_acquire))
      throw Error(Status::Aborted, what_ + ": communicator aborted");
    uint32_t seen = env_.bell->prepare_sleep();
    if (pass()) {
      env_.bell->cancel_sleep();
      spins = yields = 0;
      moved_since_check = true;
      continue;
    }
    // Only peers we still wait on: one that already got everything may have moved on (or exited).
    peers.clear();
    for (const auto& c : chans_) {
      if (c.next_send >= c.sends.size() && c.next_recv >= c.recvs.size() && c.refs_held == 0) continue;
      PeerNeed need{c.peer, 0, c.next_send < c.sends.size() || c.refs_held > 0};
      for (size_t i = c.next_recv; i < c.recvs.size(); ++i) {
        const Op& op = ops_[static_cast<size_t>(c.recvs[i])];
        need.recv_bytes += op.bytes - op.done;
      }
      peers.push_back(need);
    }
    try {
      for (Transport* t : env_.transports) t->check_peers(peers);
    } catch (const Error&) {
      env_.bell->cancel_sleep();
      if (pass()) continue;  // the peer wrote what we needed before it went away
      throw;
    }
    auto now = Clock::now();
    if (moved_since_check || last_progress == Clock::time_point{}) {
      last_progress = now;
      moved_since_check = false;
    }
    if (now - last_progress > env_.timeout) {
      env_.bell->cancel_sleep();
      fail_timeout();
    }
    env_.bell->sleep(seen, kSlice);
    if (pass()) {
      spins = yields = 0;
      moved_since_check = true;
    }
  }
}

}  // namespace rfab::coll
