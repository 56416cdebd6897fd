#include "rfab/collectives/doorbell.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "env_config.hpp"

namespace rfab::coll {

namespace {
long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

bool register_for_heavy_fences() {
  const auto on = from_env([] { return env::get_bool("RFAB_SHM_ASYMMETRIC_FENCE"); });
  if (on && !*on) return false;
  const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
      (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0)
    return false;
  // A seccomp filter may allow the query and refuse the rest: issue one barrier now, so a sleeping owner
  // never finds out later that it cannot.
  return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 && membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}
}  // namespace

bool asymmetric_fence_registered() {
  static const bool registered = register_for_heavy_fences();
  return registered;
}

bool Doorbell::asymmetric_fence_usable() { return asymmetric_fence_registered(); }

// Not FUTEX_PRIVATE: the word lives in a MAP_SHARED segment that other processes ring.
void Doorbell::wake() {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void Doorbell::heavy_fence() {
  // Cannot fail once asymmetric_fence_registered() has issued one; if it ever did, a producer's ring could
  // be missed and the owner's sleep, always bounded (the exchange sleeps in 2 ms slices), would end late.
  (void)membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

void Doorbell::sleep(uint32_t seen, std::chrono::nanoseconds max) {
  if (max.count() > 0) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(max.count() / 1000000000);
    ts.tv_nsec = static_cast<long>(max.count() % 1000000000);
    // The kernel compares seq with `seen` atomically; a ring() after prepare_sleep() makes this return at once.
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq), FUTEX_WAIT, seen, &ts, nullptr, 0);
  }
  sleepers.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace rfab::coll
