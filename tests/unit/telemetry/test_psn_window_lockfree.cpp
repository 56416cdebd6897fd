// The PSN window's lock-free in-order step (psn_window_step.h: rfab_psn_fast_in_order, and the busy header
// word the locked step holds): the protocol the BPF programs run, driven from user space with a mutex for
// the window's bpf_spin_lock.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "rfab/telemetry/psn_window.hpp"

namespace rfab::telemetry {
namespace {

uint32_t psn_add(uint32_t psn, int64_t n) { return static_cast<uint32_t>(psn + n) & RFAB_PSN_MASK; }

// One window as the BPF programs share it: the lock-free in-order step first, else the locked step.
struct SharedWindow {
  rfab_psn_window w{};
  std::mutex lock;
  // Returns the step's result; a lock-free step reports what the locked one would (FORWARD, nothing opened).
  rfab_psn_step request(uint32_t psn, uint64_t now_ns, bool* lock_free = nullptr) {
    rfab_psn_step st{};
    if (lock_free) *lock_free = false;
    if (rfab_psn_fast_in_order(&w, psn)) {
      if (lock_free) *lock_free = true;
      st.kind = RFAB_PSN_FORWARD;
      return st;
    }
    std::lock_guard<std::mutex> g(lock);
    rfab_psn_locked_begin(&w);
    rfab_psn_window_step(&w, psn, 0, now_ns, RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT, &st);
    rfab_psn_locked_end(&w);
    return st;
  }
  // What a reader under the lock sees (the collector's BPF_F_LOCK copy).
  rfab_psn_window snapshot() {
    std::lock_guard<std::mutex> g(lock);
    rfab_psn_window copy = w;
    rfab_psn_window_take_head(&copy, copy.head);
    return copy;
  }
};

bool same_window(const rfab_psn_window& a, const rfab_psn_window& b) {
  return a.expected == b.expected && a.flags == b.flags && a.open == b.open &&
         std::memcmp(a.holes, b.holes, sizeof a.holes) == 0 && std::memcmp(a.opened_at, b.opened_at, sizeof a.opened_at) == 0;
}

TEST(TelemetryPsnWindowLockFree, TheHeaderWordTakesOnlyInOrderRequestsOfAFlowWithNoHoleOpen) {
  SharedWindow s;
  bool lock_free = true;
  s.request(100, 0, &lock_free);
  EXPECT_FALSE(lock_free) << "the first request starts the window under the lock";
  s.request(101, 0, &lock_free);
  EXPECT_TRUE(lock_free);
  s.request(103, 0, &lock_free);  // 102 open
  EXPECT_FALSE(lock_free);
  s.request(104, 0, &lock_free);
  EXPECT_FALSE(lock_free) << "a hole is open: the locked step decides";
  EXPECT_EQ(s.request(102, 0).kind, RFAB_PSN_REORDERED);
  s.request(105, 0, &lock_free);
  EXPECT_TRUE(lock_free) << "no hole open any more";
  EXPECT_EQ(s.snapshot().expected, 106u);
  s.w.head |= RFAB_PSN_HEAD_BUSY;  // as a locked step on another CPU leaves it
  EXPECT_EQ(rfab_psn_fast_in_order(&s.w, 106), 0);
}

TEST(TelemetryPsnWindowLockFree, SprayedStreamsGiveTheLockedStepsResults) {
  std::mt19937 gen(777);
  auto rng = [&] { return static_cast<uint32_t>(gen()); };
  for (int run = 0; run < 30; ++run) {
    const uint32_t base = run % 2 ? 0xFFFF00 : rng() & RFAB_PSN_MASK;
    PsnWindow general(RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT);
    SharedWindow shared;
    uint64_t now = 0;
    for (uint32_t i = 0; i < 3000; ++i) {
      now += 1000;
      uint32_t offset = i;
      if (rng() % 20 == 0) offset = i + 1 + rng() % 300;                  // ahead
      else if (rng() % 20 == 0) offset = i > 300 ? i - rng() % 300 : i;  // behind
      const uint32_t psn = psn_add(base, offset);
      const rfab_psn_step a = general.step(psn, now);
      const rfab_psn_step b = shared.request(psn, now);
      ASSERT_EQ(a.kind, b.kind) << "run " << run << " i " << i;
      ASSERT_EQ(a.opened, b.opened);
      ASSERT_EQ(a.lost, b.lost);
      ASSERT_EQ(a.distance, b.distance);
      ASSERT_TRUE(same_window(general.state(), shared.snapshot())) << "run " << run << " i " << i;
    }
  }
}

// One CPU sends a flow's requests in order, with now and then a PSN overtaken by the next two; another CPU
// at the same time sees old PSNs of the same flow (duplicates, then too old). The in-order requests race
// the locked steps of both: none may be lost, counted twice or see a stale expected PSN.
TEST(TelemetryPsnWindowLockFree, InOrderAndOldRequestsFromTwoCpusAtOnce) {
  SharedWindow s;
  const uint32_t start = 0xFFF000;  // wraps through 24 bits on the way
  const uint32_t n = 200000;
  ASSERT_EQ(s.request(start, 0).kind, RFAB_PSN_FIRST);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> lock_free_steps{0};
  uint64_t old_seen = 0, old_wrong = 0;
  std::thread other([&] {
    uint32_t k = 0;
    while (!done.load(std::memory_order_relaxed)) {
      const rfab_psn_step st = s.request(start, 0);  // always behind the highest
      ++old_seen;
      if (st.kind != RFAB_PSN_DUPLICATE && st.kind != RFAB_PSN_TOO_OLD) ++old_wrong;
      if (++k % 64 == 0) std::this_thread::yield();
    }
  });
  uint64_t forward = 0, opened = 0, reordered = 0, other_kinds = 0;
  for (uint32_t i = 1; i <= n;) {
    const bool overtake = i % 97 == 0 && i + 2 <= n;
    const uint32_t order[3] = {i + 1, i + 2, i};
    for (uint32_t j = 0; j < (overtake ? 3u : 1u); ++j) {
      bool lock_free = false;
      const rfab_psn_step st = s.request(psn_add(start, overtake ? order[j] : i), 0, &lock_free);
      lock_free_steps += lock_free;
      if (st.kind == RFAB_PSN_FORWARD) ++forward, opened += st.opened;
      else if (st.kind == RFAB_PSN_REORDERED) ++reordered;
      else ++other_kinds;
    }
    i += overtake ? 3 : 1;
  }
  done = true;
  other.join();
  const uint64_t overtaken = reordered;
  EXPECT_EQ(other_kinds, 0u);
  EXPECT_EQ(forward + reordered, n);
  EXPECT_EQ(opened, overtaken);
  EXPECT_GT(overtaken, 0u);
  EXPECT_EQ(old_wrong, 0u) << "of " << old_seen;
  EXPECT_GT(lock_free_steps.load(), 0u);
  const rfab_psn_window w = s.snapshot();
  EXPECT_EQ(w.expected, psn_add(start, n + 1));
  EXPECT_EQ(w.open, 0u);
  EXPECT_EQ(w.head & RFAB_PSN_HEAD_BUSY, 0u);
  for (uint64_t word : w.holes) EXPECT_EQ(word, 0u);
}

}  // namespace
}  // namespace rfab::telemetry
