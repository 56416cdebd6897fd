// A per-rank futex word that every transport rings when something this rank waits for may have
// changed (data arrived, ring space freed, a peer aborted). A rank sleeps on its own doorbell only, so one
// wait covers every peer and transport. Lives in shared memory so other processes can ring it.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace rfab::coll {

// Protocol (no lost wake-ups, and no atomic read-modify-write on the hot path when nobody sleeps):
//   owner:    seen = prepare_sleep(); re-check the condition; then sleep(seen, max) or cancel_sleep()
//   producer: publish data (release); ring()
// ring() only bumps seq and calls futex_wake when the owner announced it may sleep. If the producer misses
// the announcement, its data was published before the owner's re-check (the fence in ring() and the RMW in
// prepare_sleep() order them), so the owner sees it.
struct Doorbell {
  std::atomic<uint32_t> seq{0};       // futex word, bumped by ring() while the owner may sleep
  std::atomic<uint32_t> sleepers{0};  // > 0 from prepare_sleep() until the owner wakes up

  void ring() {
    // The caller published its data with a plain (release) store; without a full fence here that store
    // can still sit in this CPU's store buffer while we read sleepers == 0, and the owner, whose re-check
    // after prepare_sleep() does not see the data yet, sleeps through it (a lost wake-up that hung ranks
    // under load). The fence orders publish-before-load, pairing with prepare_sleep()'s seq_cst RMW.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) != 0) {
      seq.fetch_add(1, std::memory_order_seq_cst);
      wake();
    }
  }
  void wake();
  uint32_t prepare_sleep() {
    uint32_t seen = seq.load(std::memory_order_seq_cst);
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    return seen;
  }
  void cancel_sleep() { sleepers.fetch_sub(1, std::memory_order_seq_cst); }
  // Returns after a ring, a timeout, or spuriously; always ends the announcement made by prepare_sleep().
  void sleep(uint32_t seen, std::chrono::nanoseconds max);
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

}  // namespace rfab::coll
