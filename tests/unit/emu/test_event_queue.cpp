// The timing-wheel queue must pop exactly the order a (time, tie key, seq) priority queue pops, including events beyond the wheel's horizon, events pushed into the bucket being served, and ties.
// Ties carry no fixed priority by target, and the queue's cursor never passes a limit it was asked to stop
// at (a partitioned run pushes other parts' events just after that limit).
#include <gtest/gtest.h>

#include <algorithm>
#include <queue>
#include <random>

#include "rfab/emu/event_queue.hpp"

using namespace rfab::emu;

namespace {
// Every event has its own target (its id), so (time, tie key) orders them all.
struct Ref {
  Picos time;
  uint32_t id;
  bool operator>(const Ref& o) const {
    if (time != o.time) return time > o.time;
    return tie_key(time, 1, id) > tie_key(o.time, 1, o.id);
  }
};
}  // namespace

TEST(EventQueue, MatchesPriorityQueueOrder) {
  std::mt19937_64 rng(7);
  EventQueue q;
  std::priority_queue<Ref, std::vector<Ref>, std::greater<>> ref;
  uint32_t id = 0;
  Picos now = 0;
  auto push = [&](Picos t) {
    q.push(t, 1, id, 0);
    ref.push(Ref{t, id++});
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

// Ties pop by (kind, target) XORed with a hash of the time: between two targets the winner changes from one
// instant to the next, about half each, whatever their ids. A fixed order by id served the same ports
// first at every instant and cost adaptive routing a fifth of its throughput at k=8.
TEST(EventQueue, TiesCarryNoFixedPriorityByTarget) {
  EventQueue q;
  constexpr int kInstants = 2000;
  int low_first = 0, lowest_id_first = 0;
  for (int t = 0; t < kInstants; ++t) {
    const Picos at = 5000 + Picos(t) * 83'560;  // one frame time apart, as synchronised senders tie
    for (uint32_t i = 0; i < 16; ++i) q.push(at, 0, 15 - i, 0);
    std::vector<uint32_t> order;
    for (int n = 0; n < 16; ++n) {
      const Event e = q.pop();
      ASSERT_EQ(e.time, at);
      order.push_back(e.target);
    }
    const auto pos = [&](uint32_t target) { return std::find(order.begin(), order.end(), target) - order.begin(); };
    low_first += pos(3) < pos(11);
    lowest_id_first += order.front() == 0;
  }
  EXPECT_GT(low_first, kInstants * 45 / 100);
  EXPECT_LT(low_first, kInstants * 55 / 100);
  EXPECT_LT(lowest_id_first, kInstants / 8);  // 1 in 16 expected
}

// Ties are ordered by the events, not by when they were pushed: tie key, then the count of earlier events
// for that (kind, target). Two queues fed the same events in different orders pop them alike.
TEST(EventQueue, TiesPopByRankAndCountWhateverTheInsertionOrder) {
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
      EXPECT_LE(tie_key(7000, prev.kind, prev.target), tie_key(7000, x.kind, x.target)) << n;
    }
    if (x.target == 9 && x.kind == 1 && x.arg == 1001) EXPECT_EQ(prev.arg, 1000u) << "push order within a pair";
    prev = x;
  }
}

// The window driver of a partitioned run peeks at the next event (which may be far after the window),
// runs the window with pop_until, then pushes the frames other parts sent for just after the window. None
// of that may move the cursor past the window's end: a frame for an earlier bucket than the cursor's would
// trip push_tagged's assert (Debug) or be moved to the cursor's time (release) -- either way, wrong.
TEST(EventQueue, PeekAndBoundedPopLeaveRoomForEventsJustAfterTheLimit) {
  EventQueue q;
  q.push(100'000, 0, 1, 0);
  q.push(50'000'000, 0, 2, 0);  // 50 us: beyond the wheel's horizon from 0
  q.push(10'000'000, 0, 3, 0);  // 10 us: in the wheel, many buckets ahead
  Event e;
  ASSERT_TRUE(q.pop_until(1'000'000, e));
  EXPECT_EQ(e.target, 1u);
  EXPECT_EQ(q.peek_time(), 10'000'000u);
  EXPECT_EQ(q.peek_time(), 10'000'000u);  // peeking twice changes nothing
  EXPECT_FALSE(q.pop_until(1'000'000, e));  // the window [0, 1 us] is done
  EXPECT_EQ(q.peek_time(), 10'000'000u);
  q.push_tagged(EventQueue::make_event(1'000'001, 0, 4, 0, 0));  // just after the window: another part's frame
  q.push_tagged(EventQueue::make_event(1'000'001, 0, 5, 0, 0));
  EXPECT_EQ(q.peek_time(), 1'000'001u);
  ASSERT_FALSE(q.pop_until(1'000'000, e));
  for (uint32_t want_time : {1'000'001u, 1'000'001u}) {
    ASSERT_TRUE(q.pop_until(5'000'000, e));
    EXPECT_EQ(e.time, want_time);  // not moved to a later bucket
  }
  // A window that ends inside a bucket: the bucket is loaded, and an event after the limit in that same
  // bucket still goes before the rest.
  EXPECT_FALSE(q.pop_until(9'999'999, e));
  q.push_tagged(EventQueue::make_event(10'000'000, 0, 6, 0, 0));
  EXPECT_EQ(q.peek_time(), 10'000'000u);
  ASSERT_TRUE(q.pop_until(10'000'000, e));
  ASSERT_TRUE(q.pop_until(10'000'000, e));
  EXPECT_FALSE(q.pop_until(10'000'000, e));
  EXPECT_EQ(q.peek_time(), 50'000'000u);  // the far event, found without moving the cursor to it
  q.push_tagged(EventQueue::make_event(20'000'000, 0, 7, 0, 0));
  EXPECT_EQ(q.pop().target, 7u);
  EXPECT_EQ(q.pop().target, 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.peek_time(), kNeverPs);
}

// Peeking and bounded pops in random windows give the same events as plain pops, with frames pushed just
// after each window as a partitioned run does.
TEST(EventQueue, WindowedPopsMatchPlainPops) {
  std::mt19937_64 rng(11);
  EventQueue plain, windowed;
  std::vector<Event> a, b;
  for (uint32_t i = 0; i < 2000; ++i) {
    const Picos t = rng() % 40'000'000;
    plain.push(t, 0, i, 0);
    windowed.push(t, 0, i, 0);
  }
  uint32_t id = 1'000'000;
  while (!windowed.empty()) {
    const Picos next = windowed.peek_time();
    const Picos end = next + 1'000'000;  // a 1 us lookahead
    Event e;
    while (windowed.pop_until(end - 1, e)) b.push_back(e);
    // Frames "from another part" for just after the window, pushed to both queues.
    const int n = int(rng() % 3);
    for (int k = 0; k < n && id < 1'000'300; ++k, ++id) {
      const Picos t = end + rng() % 3'000'000;
      windowed.push(t, 0, id, 0);
      plain.push(t, 0, id, 0);
    }
  }
  while (!plain.empty()) a.push_back(plain.pop());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].time, b[i].time) << i;
    ASSERT_EQ(a[i].target, b[i].target) << i;
  }
}

// A bucket of many events (synchronised senders) is radix-sorted on (time, tie key); it must still pop in
// the full order, including a PFC pair of one port whose push order counts, pushed out of seq order.
TEST(EventQueue, LargeBucketsPopInTheFullOrder) {
  constexpr Picos kAt = 1'000'000 * 1024;  // a bucket's start
  std::mt19937_64 rng(5);
  EventQueue q;
  std::vector<Event> ref;
  auto push = [&](Picos t, uint8_t kind, uint32_t target, uint32_t arg, uint16_t seq) {
    const Event e = EventQueue::make_event(t, kind, target, arg, seq);
    q.push_tagged(e);
    ref.push_back(e);
  };
  push(kAt + 500, 2, 42, 0, 1);  // a resume counted after the pause that is pushed next (another part's frames)
  push(kAt + 500, 2, 42, 1, 0);
  for (uint32_t i = 0; i < 3000; ++i)
    push(kAt + (i % 3 == 0 ? 7 : rng() % 1024), uint8_t(rng() % 2), i * 7919u % 100'003, i, 0);  // distinct targets
  std::sort(ref.begin(), ref.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    const uint64_t ka = tie_key(a.time, a.kind, a.target), kb = tie_key(b.time, b.kind, b.target);
    return ka != kb ? ka < kb : a.seq < b.seq;
  });
  for (size_t i = 0; i < ref.size(); ++i) {
    const Event e = q.pop();
    ASSERT_TRUE(e.time == ref[i].time && e.kind == ref[i].kind && e.target == ref[i].target && e.arg == ref[i].arg)
        << i;
  }
  EXPECT_TRUE(q.empty());
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
