// The emulator's event queue: a timing wheel of 1.024 ns buckets over a ~16.8 us horizon, with a binary
// heap for events beyond it. Almost every event in a packet-level fabric lands less than a few link
// latencies ahead, so push is O(1) (append to a bucket) and pop amortises to a sort of a tiny bucket plus a
// bitmap scan for the next non-empty one.
//
// Events at equal times pop by kind (the user's numbering is a priority: fabric_event.hpp puts arrivals
// first), then by target XORed with a hash of the time, then by seq, which counts the events pushed so far
// for that (kind, target) pair. The order is a property of the events alone, not of when they were
// inserted, so a fabric split over several queues (partition.hpp) processes each part's events in the order
// one queue would: every (kind, target) pair is only ever pushed by one part, which keeps its count. The XOR
// changes from one instant to the next, so between two tied events of one kind each goes first at half the
// instants and no port or host is served first systematically, as ordering by id would (docs/emulator.md,
// "Event order"); at one instant the events still come in runs of neighbouring ids, so the arrays they
// index are walked block by block rather than at random. seq keeps the events of one (kind, target) at one
// time in push order (the last PFC frame wins). A user whose kinds can never have two different events for
// one target at one time may leave them uncounted (seq 0; `counted_kinds`), saving a counter update per push.
//
// Times are picoseconds: serialization of a 4 KiB frame at 400G is 83.56 ns, and exact integer
// picoseconds keep the single-link closed forms exact.
#pragma once
#include <cstddef>
#include <array>
#include <cstdint>
#include <vector>

namespace rfab::emu {

using Picos = uint64_t;
inline constexpr Picos kNeverPs = ~Picos{0};

struct Event {
  Picos time = 0;
  uint32_t target = 0;  // port, host or flow id, depending on kind
  uint32_t arg = 0;     // packet index or a small argument
  uint32_t rank = 0;    // target ^ tie_mask(time), set by the queue on push: the tie-breaker after kind
  uint16_t seq = 0;     // the n-th event pushed for (kind, target): the last tie-breaker (wrap-safe)
  uint8_t kind = 0;
};
static_assert(sizeof(Event) == 24, "buckets hold millions of events at scale: keep them at 24 bytes");

// The instant's mask for the tie key: the low half of splitmix64 of the time.
inline uint32_t tie_mask(Picos time) {
  uint64_t z = time + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return uint32_t(z ^ (z >> 31));
}

// The tie key of (kind, target) at `time`: (kind, rank) as one number. One-to-one at a given time, so
// distinct (kind, target) pairs never share it.
inline uint64_t tie_key(Picos time, uint8_t kind, uint32_t target) {
  return uint64_t{kind} << 32 | (target ^ tie_mask(time));
}

inline bool event_before(const Event& a, const Event& b) {
  if (a.time != b.time) return a.time < b.time;
  const uint64_t ka = uint64_t{a.kind} << 32 | a.rank, kb = uint64_t{b.kind} << 32 | b.rank;
  if (ka != kb) return ka < kb;
  return int16_t(uint16_t(a.seq - b.seq)) < 0;
}

class EventQueue {
 public:
  static constexpr unsigned kShift = 10;       // bucket width 2^10 ps
  static constexpr unsigned kBuckets = 1u << 14;  // horizon 2^24 ps ~ 16.8 us
  static constexpr size_t kKeepCapacity = 64;      // events a drained bucket may keep allocated
  static constexpr unsigned kKinds = 8;            // event kinds 0..7 (fabric_event.hpp uses five)

  // `counted_kinds`: bit k set = events of kind k get a seq (default: every kind).
  explicit EventQueue(uint32_t counted_kinds = ~uint32_t{0});
  // `time` must not be earlier than the last popped event's time; `kind` < kKinds.
  void push(Picos time, uint8_t kind, uint32_t target, uint32_t arg) {
    insert(time, kind, target, arg, next_seq(kind, target));
  }
  static Event make_event(Picos time, uint8_t kind, uint32_t target, uint32_t arg, uint16_t seq) {
    Event e;
    e.time = time;
    e.target = target;
    e.arg = arg;
    e.seq = seq;
    e.kind = kind;
    return e;
  }
  // Pushes an event whose seq was taken elsewhere: next_seq() of the queue of the part that scheduled it.
  // Its time must not be earlier than the last popped event's, nor than a limit pop_until() stopped at.
  void push_tagged(const Event& e) { insert(e.time, e.kind, e.target, e.arg, e.seq); }
  // The seq the next event for (kind, target) gets; counts it as pushed. 0 for an uncounted kind.
  uint16_t next_seq(uint8_t kind, uint32_t target) {
    if (!(counted_ >> kind & 1)) return 0;
    std::vector<uint16_t>& c = seqs_[kind];
    if (target >= c.size()) c.resize(size_t(target) + 1 + c.size() / 2, 0);
    return c[target]++;
  }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  size_t memory_bytes() const;  // heap bytes held, including spare bucket capacity
  // Time of the earliest event; kNeverPs when empty. It moves nothing, so events may still be pushed for any
  // time from the last popped event's on (a partitioned run peeks, then receives other parts' frames).
  Picos peek_time() const;
  // The event after the one just popped if it is already at hand (same bucket), else nullptr: lets the
  // caller prefetch its packet while handling the current one.
  const Event* glance() const {
    const auto& v = wheel_[cur_ & (kBuckets - 1)];
    return sorted_ && pos_ < v.size() ? &v[pos_] : nullptr;
  }
  // Removes and returns the earliest event. Precondition: !empty().
  Event pop();
  // Pops the earliest event into `out` if its time is at most `limit`; false (and `out` untouched) if there
  // is none. The queue's cursor stays at or before `limit`, so events at any time after it may be pushed.
  bool pop_until(Picos limit, Event& out);

 private:
  // Makes the current bucket non-empty and sorted, moving to no bucket after `limit_bucket`; false if no
  // event is at or before it.
  bool load_current(uint64_t limit_bucket = ~uint64_t{0});
  Picos bucket_min_time(uint64_t slot) const;  // earliest time in an unsorted wheel slot
  uint64_t next_wheel_bucket() const;  // absolute bucket of the next non-empty wheel slot after cur_, or ~0
  // Fields by value rather than an Event built by the caller: reading back a struct just written field by
  // field defeats the CPU's store forwarding, which cost push a tenth of the engine's time.
  void insert(Picos time, uint8_t kind, uint32_t target, uint32_t arg, uint16_t seq);
  void to_wheel(const Event& e);
  void set_bit(size_t slot) { bits_[slot >> 6] |= uint64_t{1} << (slot & 63); }
  void clear_bit(size_t slot) { bits_[slot >> 6] &= ~(uint64_t{1} << (slot & 63)); }

  std::vector<std::vector<Event>> wheel_;
  std::vector<uint64_t> bits_;
  std::vector<Event> far_;  // min-heap on event_before, events >= cur_ + kBuckets
  std::vector<Event> scratch_;  // the radix sort's second buffer (event_queue.cpp, sort_bucket)
  uint64_t cur_ = 0;        // absolute index of the bucket being served
  size_t pos_ = 0;          // next event to pop in the current bucket
  bool sorted_ = false;     // current bucket sorted and being served
  size_t size_ = 0;
  uint32_t counted_;                                 // kinds that get a seq
  std::array<std::vector<uint16_t>, kKinds> seqs_;  // per counted kind, per target: events pushed so far
};

}  // namespace rfab::emu
