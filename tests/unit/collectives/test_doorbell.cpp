// The doorbell's sleep protocol, with fenced rings and with the asymmetric fence (light rings, the owner's
// process-wide barrier before it sleeps, the owner switching light rings on and off while producers ring).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "rfab/base/env.hpp"
#include "rfab/collectives/doorbell.hpp"

namespace rfab::coll {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Two threads exchange a counter every round; each waits only by sleeping on its own doorbell (no spin),
// so every hand-off races a producer's ring against the owner's announcement. A lost wake-up would leave
// the owner asleep for the whole 2 s slice while its value is there: the test fails on any sleep of 1 s.
// (The same exchange with neither the fence nor the barrier lost about one wake-up in 15,000 sleeps.)
struct Side {
  Doorbell bell;
  alignas(64) std::atomic<uint64_t> value{0};
};

struct Result {
  Clock::duration worst_sleep;
  int sleeps;
};

Result ping_pong(bool light, int rounds, bool toggle) {
  Side side[2];
  std::atomic<int64_t> worst_ns{0};
  std::atomic<int> sleeps{0};
  auto run = [&](int me) {
    Side& own = side[me];
    Side& peer = side[1 - me];
    std::mt19937 rng(static_cast<unsigned>(me) + 1);
    for (uint64_t i = 1; i <= static_cast<uint64_t>(rounds); ++i) {
      if (toggle && rng() % 8 == 0) own.bell.allow_light_rings(rng() % 2 == 0);
      peer.value.store(i, std::memory_order_release);
      if (light) {
        peer.bell.ring_light();
      } else {
        peer.bell.ring();
      }
      while (own.value.load(std::memory_order_acquire) < i) {
        const uint32_t seen = own.bell.prepare_sleep();
        if (own.value.load(std::memory_order_acquire) >= i) {
          own.bell.cancel_sleep();
          break;
        }
        const auto t0 = Clock::now();
        sleeps.fetch_add(1, std::memory_order_relaxed);
        own.bell.sleep(seen, 2s);
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
        int64_t w = worst_ns.load();
        while (ns > w && !worst_ns.compare_exchange_weak(w, ns)) {
        }
      }
    }
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  return {std::chrono::nanoseconds(worst_ns.load()), sleeps.load()};
}

TEST(Doorbell, FencedRingsWakeEverySleeper) {
  const Result r = ping_pong(false, 50000, false);
  EXPECT_LT(r.worst_sleep, 1s);
  EXPECT_GT(r.sleeps, 10000);  // the hand-offs did race sleeps
}

TEST(Doorbell, LightRingsWakeEverySleeperWhileTheOwnerSwitchesThemOnAndOff) {
  // Registration is what makes ring_light() legal; on a kernel without membarrier every ring fences.
  ASSERT_TRUE(asymmetric_fence_registered()) << "membarrier(GLOBAL_EXPEDITED) is not usable here";
  const Result r = ping_pong(true, 50000, true);
  EXPECT_LT(r.worst_sleep, 1s);
  EXPECT_GT(r.sleeps, 10000);
}

TEST(Doorbell, LightRingsOnlyWhileTheOwnerAllowsThem) {
  Doorbell bell;
  EXPECT_EQ(bell.light_ok.load(), 0u);  // producers fence until the owner says otherwise
  bell.allow_light_rings(true);
  EXPECT_EQ(bell.light_ok.load(), asymmetric_fence_registered() ? 1u : 0u);
  bell.allow_light_rings(false);
  EXPECT_EQ(bell.light_ok.load(), 0u);
  // The switch back leaves a barrier owed to producers that still read 1: the next sleep issues it.
  EXPECT_EQ(bell.barrier_owed.load(), asymmetric_fence_registered());
  (void)bell.prepare_sleep();
  bell.cancel_sleep();
  EXPECT_FALSE(bell.barrier_owed.load());
}

}  // namespace
}  // namespace rfab::coll
