// The transport interface the algorithms are written against (in the spirit of Gloo's
// device/context/pair/buffer): a Transport connects this rank to some peers; a Pair is an ordered,
// message-aligned byte stream each way with one peer. Pairs never block: algorithms go through the
// Exchange engine, which progresses many pairs at once and sleeps on this rank's Doorbell when none can move.
//
// A new transport (RoCE: RDMA WRITE with immediate into pre-registered rings, credits returned by the
// receiver) implements Pair on top of its queue pairs and rings the local Doorbell from its completion
// path; nothing above this header changes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rfab/collectives/doorbell.hpp"

namespace rfab::coll {

class Pair {
 public:
  virtual ~Pair() = default;
  // Message boundaries: both ends call begin_send / begin_recv at the same points of their streams
  // (never for zero-length messages) so a transport may align each message (the shm rings align to 64 B
  // so that elements never straddle the ring's wrap point).
  virtual void begin_send() = 0;
  virtual void begin_recv() = 0;
  // The same boundaries, told the message's total size (equal at both ends: a receive matches the peer's
  // send byte for byte), so a transport can pick a protocol per message (shm: one-cache-line messages).
  virtual void begin_send_msg(size_t bytes) {
    (void)bytes;
    begin_send();
  }
  virtual void begin_recv_msg(size_t bytes) {
    (void)bytes;
    begin_recv();
  }
  // Copies up to n bytes into the link without blocking; returns the number accepted (0 when full),
  // a multiple of `granule` unless it is all n (so a receiver never sees part of an element).
  virtual size_t try_send(const std::byte* src, size_t n, size_t granule) = 0;
  // Contiguous bytes that have arrived and not been consumed; empty when none. Valid until consume().
  virtual std::span<const std::byte> readable() = 0;
  virtual void consume(size_t n) = 0;
  // Bytes that have arrived and not been consumed (all of them, not only the contiguous part).
  virtual size_t buffered() = 0;

  // Sending by reference (zero copy), for transports that read the caller's memory while they send and
  // resend it (RoCE over rfab's RC engine). Worth it for a message of `bytes`?
  virtual bool can_send_ref(size_t bytes) const {
    (void)bytes;
    return false;
  }
  // Like try_send, but the transport keeps reading [src, src + accepted) until sent_through() passes the
  // stream position of its last byte; *pos gets the position of its first. The caller must not change
  // that memory before then.
  virtual size_t try_send_ref(const std::byte* src, size_t n, size_t granule, uint64_t* pos) {
    (void)src, (void)n, (void)granule, (void)pos;
    return 0;
  }
  // Stream position below which every byte sent by reference has been delivered and will not be read again.
  virtual uint64_t sent_through() { return UINT64_MAX; }
  // The call that sent by reference failed before sent_through() passed its data: stop reading that
  // memory now (the connection is closed, so the caller may reuse or free its buffers).
  virtual void abandon_refs() {}

  // Receiving in place (RoCE over rfab's RC engine: the peer writes straight into the caller's buffer).
  // Before a call's receives from this peer start, the engine lists them in order: each message's size,
  // and the buffer its bytes are to end up in, or null where the caller reduces or copies them itself. A
  // transport may have the peer write a listed message into its buffer; readable() then returns spans of
  // that buffer (the bytes are there already: the caller only consumes them). The caller must not read
  // or write such a buffer, nor send from it, until it has consumed the message.
  struct RecvPlan {
    size_t bytes = 0;
    std::byte* dst = nullptr;
  };
  virtual void plan_recvs(std::span<const RecvPlan> plan) { (void)plan; }
  // The smallest message plan_recvs may have written in place (SIZE_MAX: none).
  virtual size_t landing_min() const { return SIZE_MAX; }
  // The call failed: after this returns no peer writes into a planned buffer any more.
  virtual void abandon_landings() {}
};

// What the engine still needs from a peer it is waiting on.
struct PeerNeed {
  int peer = -1;
  size_t recv_bytes = 0;       // still to be received from it
  bool sends_pending = false;  // we still have data for it
};

// What a transport knows about a peer, for error messages.
struct PeerInfo {
  int rank = -1;
  std::string host;
  int pid = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const = 0;
  // The pair to `peer`, or nullptr if this transport does not reach it.
  virtual Pair* pair(int peer) = 0;
  // Throws Error(Remote) naming the peer if one of `needs` aborted, or died / left while we still need
  // something it has not delivered (a peer that finished its part and exited is fine).
  // Called only when the engine is about to sleep, so it may make a syscall.
  virtual void check_peers(std::span<const PeerNeed> needs) = 0;
  // Tells connected peers that this rank is going away (abort): their waits end with an error.
  virtual void announce_abort() = 0;
  // Moves this transport's traffic from the calling thread, which is waiting in a collective, instead of
  // leaving it to a thread of the transport's own: each hand-off between two threads costs a wake-up
  // (tens of microseconds on a VM). Returns whether it moved anything. Shared memory needs no progress.
  virtual bool progress() { return false; }
  // The waiting thread stops calling progress(): it is about to sleep (`will_sleep`: the transport's own
  // thread must take over now, since what the caller waits for depends on it), or its call is over (the
  // transport may take over a little later: the next call often starts within microseconds, and a
  // take-over and a hand-back cost two wake-ups). Cheap when progress() was not called.
  virtual void stop_progress(bool will_sleep) { (void)will_sleep; }
};

}  // namespace rfab::coll
