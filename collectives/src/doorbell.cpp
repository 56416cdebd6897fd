#include "rfab/collectives/doorbell.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

namespace rfab::coll {

// Not FUTEX_PRIVATE: the word lives in a MAP_SHARED segment that other processes ring.
void Doorbell::wake() {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&seq), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
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
