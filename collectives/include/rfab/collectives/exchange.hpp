// The progress engine every algorithm runs on. An Exchange is a list of transfers (send, receive,
// receive-and-reduce) with other ranks; run() moves them all forward together, chunk by chunk, so a
// multi-step algorithm pipelines: an op may be gated on an earlier op, progressing only as far as that op
// has got (e.g. forward a block while it is still being reduced). Transfers to one peer go in the order
// they were added (the peer adds the matching ones in the same order).
//
// Large sends may go by reference where the transport supports it (no copy; the transport reads the
// caller's memory until the peer has it): run() then also waits for those to be delivered before it
// returns, and a receive never overwrites memory a send still reads.
//
// When nothing can move, the engine spins briefly, then sleeps on this rank's doorbell (futex) in slices,
// checking between slices for abort, dead peers and the no-progress deadline, so a dead rank or a stuck
// peer turns into an Error naming the peer instead of a hang.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <memory_resource>
#include <cstddef>
#include <string>
#include <vector>

#include "rfab/collectives/reduce.hpp"
#include "rfab/collectives/transport.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

// One transfer of an exchange as a schedule recorder sees it (no data: sizes, peers and order only).
struct RecordedOp {
  bool send = false;  // false: a receive (plain or reducing)
  int peer = 0;
  size_t bytes = 0;
  int gate = -1;      // index in the same exchange of the op this one is gated on, or -1
};

// Records the schedule an algorithm runs instead of running it: with EngineEnv::recorder set, every
// Exchange::run() hands its ops here and returns at once, touching no buffer and no transport. The
// emulator (rfab/emu/step_traffic.hpp) runs the library's own algorithms this way to turn one training
// step into flows. Algorithms skip their local copies when recording (AlgoCtx::records()), so a recording
// run may pass buffers that are reserved but never mapped.
class ScheduleRecorder {
 public:
  virtual ~ScheduleRecorder() = default;
  virtual void exchange(const RecordedOp* ops, size_t n) = 0;
};

// What the engine needs from the communicator.
struct EngineEnv {
  std::vector<Transport*> transports;  // first one that reaches a peer wins
  Doorbell* bell = nullptr;
  std::chrono::milliseconds timeout{30000};
  // How long a waiting rank spins before it sleeps. Waking a sleeping rank costs ~100 us on a VM (futex
  // wake of an idle vCPU), so latency-bound calls spin longer than that; oversubscribed ranks barely spin.
  std::chrono::nanoseconds spin{std::chrono::microseconds(200)};
  // The spin while a transport progresses from this thread (Transport::progress): the thread is then
  // doing the transport's work, not only watching, so even large calls keep it before handing back.
  std::chrono::nanoseconds drive_spin{std::chrono::microseconds(200)};
  size_t chunk = size_t{128} << 10;       // bytes moved per op per pass (pipelining granularity)
  const std::atomic<bool>* abort_flag = nullptr;
  std::vector<std::string> hosts;         // per rank, for messages
  ScheduleRecorder* recorder = nullptr;   // set: record exchanges instead of running them (no transports)

  Pair* pair(int peer) const;
};

class Exchange {
 public:
  // `what` names the operation in errors ("allreduce"); `elem` is the element size (reduce granularity).
  Exchange(const EngineEnv& env, std::string what, size_t elem = 1, ReduceFn fn = nullptr);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  int send(int peer, const void* src, size_t bytes, int gate = -1);
  int recv(int peer, void* dst, size_t bytes, int gate = -1);
  // dst = local (op) incoming; dst may equal local. Gated ops wait for `gate` to cover the same bytes.
  int recv_reduce(int peer, const void* local, void* dst, size_t bytes, int gate = -1);
  // The algorithm's promise that the bytes of every receive of this call are computed by the peers from
  // what the earlier ops of this call sent or reduced (a ring allreduce's allgather brings back sums that
  // went round the ring through this rank): they cannot arrive before those ops are done with the same
  // bytes. Receives may then be written in place over the buffers of earlier ops (see plan_landings).
  void receives_follow_earlier_ops() { follows_earlier_ = true; }
  // Runs every op to completion. Throws Error(Remote/Timeout/Aborted) on failure.
  void run();
  bool empty() const { return ops_.empty(); }

 private:
  enum class Kind : uint8_t { Send, Recv, RecvReduce };
  struct Op {
    Kind kind;
    int peer;
    const std::byte* src;
    std::byte* dst;
    size_t bytes;
    int gate;
    size_t done = 0;
    Pair* pair = nullptr;
    // Sent by reference: the transport reads src until its sent_through() passes ref_pos + bytes.
    bool by_ref = false;
    bool ref_free = false;
    uint64_t ref_pos = 0;
  };
  struct Channel {
    int peer;
    Pair* pair;
    std::pmr::vector<int> sends, recvs;  // op indices in order
    size_t next_send = 0, next_recv = 0;
    bool send_begun = false, recv_begun = false;
    int refs_held = 0;  // ops sent by reference whose memory the transport still reads
    bool planned = false;  // plan_recvs offered the pair a buffer to write into
  };
  int add(Op op);
  void run_ops();
  bool pass();
  bool step_send(Channel& c);
  bool step_recv(Channel& c);
  bool release_refs();
  size_t clear_of_refs(const std::byte* dst, size_t n) const;
  void abandon_refs();
  bool may_land(int idx) const;
  void plan_landings();
  [[noreturn]] void fail_timeout();
  std::string peer_name(int r) const;

  const EngineEnv& env_;
  std::string what_;
  size_t elem_;
  ReduceFn fn_;
  // Small exchanges (latency-bound calls) allocate from this arena only, not from the heap.
  alignas(64) std::array<std::byte, 4096> arena_;
  std::pmr::monotonic_buffer_resource res_{arena_.data(), arena_.size()};
  std::pmr::vector<Op> ops_{&res_};
  std::pmr::vector<Channel> chans_{&res_};
  size_t remaining_ = 0;
  int refs_held_ = 0;  // sum of the channels' refs_held
  bool follows_earlier_ = false;
};

}  // namespace rfab::coll
