// The timing-wheel queue must pop exactly the order a (time, kind, target, seq) priority queue pops,
// including events beyond the wheel's horizon, events pushed into the bucket being served, and ties (the
// reference gives each event its own target in push order, so there its ties pop in push order).
#include <gtest/gtest.h>

#include <queue>
#include <random>

#include "rfab/emu/event_queue.hpp"

using namespace rfab::emu;

namespace {
struct Ref {
  Picos time;
  uint64_t seq;
  uint32_t id;
  bool operator>(const Ref& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};
}  // namespace

TEST(EventQueue, MatchesPriorityQueueOrder) {
  std::mt19937_64 rng(7);
  EventQueue q;
  std::priority_queue<Ref, std::vector<Ref>, std::greater<>> ref;
  uint64_t seq = 0;
  uint32_t id = 0;
  Picos now = 0;
  auto push = [&](Picos t) {
    q.push(t, 1, id, 0);
    ref.push(Ref{t, seq++, id++});
  };
  // Mix of delays: same-time, sub-bucket, typical (serialization/latency), and far (timers, > horizon).
  std::uniform_int_distribution<int> kind(0, 9);
  for (int i = 0; i < 1000; ++i) push(rng() % 50'000'000);
  for (int step = 0; step < 200'000; ++step) {
    if (!ref.empty() && (kind(rng) < 5 || step % 3 == 0)) {
      ASSERT_FALSE(q.empty());
      Ref r = ref.top();
      ref.pop();
      ASSERT_EQ(q.peek_time(), r.time);
      Event e = q.pop();
      ASSERT_EQ(e.time, r.time) << "step " << step;
      ASSERT_EQ(e.target, r.id) << "step " << step;
      now = e.time;
    }
    int k = kind(rng);
    Picos d = k == 0 ? 0 : k < 3 ? rng() % 1000 : k < 8 ? 80'000 + rng() % 1'000'000 : 10'000'000 + rng() % 100'000'000;
    push(now + d);
  }
  while (!ref.empty()) {
    Ref r = ref.top();
    ref.pop();
    Event e = q.pop();
    ASSERT_EQ(e.target, r.id);
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.peek_time(), kNeverPs);
}

TEST(EventQueue, TiesOfOneKindPopByTarget) {
  EventQueue q;
  for (uint32_t i = 0; i < 100; ++i) q.push(5000, 0, i, 0);
  q.push(4999, 0, 1000, 0);
  EXPECT_EQ(q.pop().target, 1000u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(q.pop().target, i);
}

// Ties are ordered by the events, not by when they were pushed: (kind, target), then the count of earlier
// events for that pair. Two queues fed the same events in different orders pop them alike.
TEST(EventQueue, TiesPopByKindTargetAndCountWhateverTheInsertionOrder) {
  EventQueue a, b;
  for (uint32_t i = 0; i < 50; ++i) {
    a.push(7000, uint8_t(i % 3), 100 - i, i);  // descending targets
    b.push(7000, uint8_t((49 - i) % 3), 100 - (49 - i), 49 - i);  // the same events, reversed
  }
  a.push(7000, 1, 9, 1000);
  a.push(7000, 1, 9, 1001);  // same (kind, target): the second pushed pops second
  b.push(7000, 1, 9, 1000);
  b.push(7000, 1, 9, 1001);
  Event prev{};
  for (int n = 0; n < 52; ++n) {
    const Event x = a.pop(), y = b.pop();
    EXPECT_EQ(x.arg, y.arg) << n;
    if (n > 0) {
      EXPECT_TRUE(prev.kind < x.kind || (prev.kind == x.kind && prev.target <= x.target)) << n;
    }
    prev = x;
  }
}

TEST(EventQueue, UncountedKindsGetSeqZero) {
  EventQueue q(1u << 2);
  EXPECT_EQ(q.next_seq(2, 5), 0u);
  EXPECT_EQ(q.next_seq(2, 5), 1u);
  EXPECT_EQ(q.next_seq(1, 5), 0u);
  EXPECT_EQ(q.next_seq(1, 5), 0u);
}

TEST(EventQueue, FarFutureOnly) {
  EventQueue q;
  q.push(5'000'000'000'000ull, 0, 2, 0);  // 5 s: far beyond the horizon
  q.push(1'000'000'000'000ull, 0, 1, 0);
  EXPECT_EQ(q.pop().target, 1u);
  q.push(1'000'000'000'001ull, 0, 3, 0);
  EXPECT_EQ(q.pop().target, 3u);
  EXPECT_EQ(q.pop().target, 2u);
  EXPECT_TRUE(q.empty());
}
