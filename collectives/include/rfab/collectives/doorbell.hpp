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
//   producer: publish data (release); ring() (or ring_light(), see below)
// ring() only bumps seq and calls futex_wake when the owner announced it may sleep. If the producer misses
// the announcement, its data was published before the owner's re-check (the fence in ring() and the RMW in
// prepare_sleep() order them), so the owner sees it.
//
// Asymmetric fence. The fence in ring() waits until the producer's data store has left its store buffer,
// i.e. until the line it wrote has been taken from the core that polls it: a cross-core transfer on the
// critical path of every small message. While the owner allows it (allow_light_rings(true): its waits spin,
// so it rarely sleeps), a producer registered for process-wide barriers (asymmetric_fence_registered())
// rings with ring_light(), which skips the fence, and the owner instead issues a process-wide barrier
// (membarrier, tens of microseconds in a guest) in prepare_sleep(). That barrier orders every running
// producer's earlier stores before its later loads: either it came before the producer's store (so the
// producer's later load sees the announcement) or after the producer's load (so the store is visible to
// the owner's re-check). ring_light() reads light_ok after publishing; a producer that still read 1 after
// the owner switched to 0 published before the owner's next barrier, which the owner therefore owes
// (barrier_owed) at its first sleep after the switch.
struct Doorbell {
  std::atomic<uint32_t> seq{0};       // futex word, bumped by ring() while the owner may sleep
  std::atomic<uint32_t> sleepers{0};  // > 0 from prepare_sleep() until the owner wakes up
  std::atomic<uint32_t> light_ok{0};  // written by the owner: producers may ring_light() without a fence
  std::atomic<bool> barrier_owed{false};  // the owner's own: light_ok went 1 -> 0 since its last barrier

  void ring() {
    // The caller published its data with a plain (release) store; without a full fence here that store
    // can still sit in this CPU's store buffer while we read sleepers == 0, and the owner, whose re-check
    // after prepare_sleep() does not see the data yet, sleeps through it (a lost wake-up that hung ranks
    // under load). The fence orders publish-before-load, pairing with prepare_sleep()'s seq_cst RMW.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    wake_if_sleeping();
  }
  // Only from a process for which asymmetric_fence_registered() is true.
  void ring_light() {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the compiler keeps the publish before the loads
    if (light_ok.load(std::memory_order_relaxed) == 0) std::atomic_thread_fence(std::memory_order_seq_cst);
    wake_if_sleeping();
  }
  // The owner, before waiting: true when it will spin long enough that sleeps are rare. Ignored (producers
  // always fence) unless this process can issue the barrier.
  void allow_light_rings(bool on) {
    // Written only when it changes: producers read this line on every ring.
    const uint32_t want = on ? 1 : 0;
    if (light_ok.load(std::memory_order_relaxed) == want || !asymmetric_fence_usable()) return;
    if (!on) barrier_owed.store(true, std::memory_order_relaxed);
    light_ok.store(want, std::memory_order_relaxed);
  }
  void wake();
  uint32_t prepare_sleep() {
    uint32_t seen = seq.load(std::memory_order_seq_cst);
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (light_ok.load(std::memory_order_relaxed) != 0 || barrier_owed.exchange(false, std::memory_order_relaxed))
      heavy_fence();
    return seen;
  }
  void cancel_sleep() { sleepers.fetch_sub(1, std::memory_order_seq_cst); }
  // Returns after a ring, a timeout, or spuriously; always ends the announcement made by prepare_sleep().
  void sleep(uint32_t seen, std::chrono::nanoseconds max);

 private:
  void wake_if_sleeping() {
    if (sleepers.load(std::memory_order_seq_cst) != 0) {
      seq.fetch_add(1, std::memory_order_seq_cst);
      wake();
    }
  }
  static bool asymmetric_fence_usable();
  static void heavy_fence();
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// Process-wide barriers (Linux membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED). The first call registers this
// process, so that other processes' barriers reach its threads, and checks that it can issue one itself;
// false when the kernel or a seccomp filter refuses either, or RFAB_SHM_ASYMMETRIC_FENCE=0 (every ring then
// fences). Thread-safe.
bool asymmetric_fence_registered();

}  // namespace rfab::coll
