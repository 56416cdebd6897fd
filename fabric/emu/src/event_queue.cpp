#include "rfab/emu/event_queue.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <span>
#include <utility>

namespace rfab::emu {
namespace {
constexpr uint64_t kMask = EventQueue::kBuckets - 1;
constexpr uint64_t kNoBucket = ~uint64_t{0};
// Function objects rather than function pointers, so that std::sort and the heap inline the comparison:
// buckets are sorted on the hot path and synchronised senders fill them with many equal times.
struct Before {
  bool operator()(const Event& a, const Event& b) const { return event_before(a, b); }
};
struct Later {
  bool operator()(const Event& a, const Event& b) const { return event_before(b, a); }
};
constexpr Before kBefore;
constexpr Later heap_later;

// Buckets up to this size are sorted by comparison (std::sort); larger ones by radix (sort_bucket).
constexpr size_t kRadixFrom = 64;

// Sorts a bucket of events whose times are in [base, base + 1024) by event_before. Synchronised senders fill
// one bucket with hundreds of events of a few distinct times, in no order of tie key (event_queue.hpp),
// where a comparison sort mispredicts about every other branch. An LSD radix sort on (time - base, kind,
// rank), 45 bits in 8-bit digits (kinds < 8), does not branch on the data, and skips the digits every
// event shares (the time digits when the bucket holds one instant). It is stable, and only events of one
// (kind, target) at one time tie on its key; the insertion pass after it puts those in seq order should
// they not have been pushed in it (on sorted data it only compares).
void sort_bucket(std::vector<Event>& v, std::vector<Event>& scratch, Picos base) {
  const size_t n = v.size();
  if (n < kRadixFrom) {
    std::sort(v.begin(), v.end(), kBefore);
    return;
  }
  constexpr int kDigits = 6;
  auto key = [base](const Event& e) { return (e.time - base) << 35 | uint64_t{e.kind} << 32 | e.rank; };
  uint32_t count[kDigits][256] = {};
  for (const Event& e : v) {
    const uint64_t k = key(e);
    for (int d = 0; d < kDigits; ++d) ++count[d][(k >> (8 * d)) & 255];
  }
  scratch.resize(n);
  Event* src = v.data();
  Event* dst = scratch.data();
  for (int d = 0; d < kDigits; ++d) {
    uint32_t* c = count[d];
    if (c[(key(src[0]) >> (8 * d)) & 255] == n) continue;  // every event has this digit
    uint32_t sum = 0;
    for (uint32_t& x : std::span(c, 256)) sum += std::exchange(x, sum);
    for (size_t i = 0; i < n; ++i) dst[c[(key(src[i]) >> (8 * d)) & 255]++] = src[i];
    std::swap(src, dst);
  }
  if (src != v.data()) std::copy(src, src + n, v.data());
  for (size_t i = 1; i < n; ++i) {
    if (!event_before(v[i], v[i - 1])) continue;
    const Event e = v[i];
    size_t j = i;
    for (; j > 0 && event_before(e, v[j - 1]); --j) v[j] = v[j - 1];
    v[j] = e;
  }
}
}  // namespace

EventQueue::EventQueue(uint32_t counted_kinds) : wheel_(kBuckets), bits_(kBuckets / 64, 0), counted_(counted_kinds) {}

void EventQueue::to_wheel(const Event& e) {
  uint64_t b = e.time >> kShift;
  auto& v = wheel_[b & kMask];
  if (b == cur_ && sorted_) {
    // The bucket being served: keep it sorted from pos_ on. Only zero- or sub-ns-delay events land here.
    auto it = std::upper_bound(v.begin() + long(pos_), v.end(), e, kBefore);
    v.insert(it, e);
  } else {
    v.push_back(e);
  }
  set_bit(b & kMask);
}

void EventQueue::insert(Picos time, uint8_t kind, uint32_t target, uint32_t arg, uint16_t seq) {
  uint64_t b = time >> kShift;
  assert(kind < kKinds);  // the radix sort keeps three bits for it
  assert(b >= cur_);
  if (b < cur_) b = cur_;  // never schedule into the past (guards rounding in callers)
  ++size_;
  if (time < (cur_ << kShift)) time = cur_ << kShift;
  Event e = make_event(time, kind, target, arg, seq);
  // Here, not by the caller: an event from another part gets its key alike.
  e.rank = target ^ tie_mask(time);
  if (b - cur_ < kBuckets) {
    to_wheel(e);
  } else {
    far_.push_back(e);
    std::push_heap(far_.begin(), far_.end(), heap_later);
  }
}

uint64_t EventQueue::next_wheel_bucket() const {
  // Scan the bitmap circularly starting just after the current slot.
  const size_t words = bits_.size();
  size_t start = size_t((cur_ + 1) & kMask);
  size_t w = start >> 6;
  uint64_t word = bits_[w] & (~uint64_t{0} << (start & 63));
  for (size_t n = 0; n <= words; ++n) {
    if (word) {
      size_t slot = (w << 6) + size_t(std::countr_zero(word));
      uint64_t dist = (slot - (cur_ & kMask)) & kMask;
      return cur_ + (dist == 0 ? kBuckets : dist);
    }
    w = (w + 1) % words;
    word = bits_[w];
  }
  return kNoBucket;
}

bool EventQueue::load_current(uint64_t limit_bucket) {
  for (;;) {
    auto& v = wheel_[cur_ & kMask];
    if (sorted_ && pos_ < v.size()) return true;
    if (!sorted_ && !v.empty()) {
      sort_bucket(v, scratch_, cur_ << kShift);
      sorted_ = true;
      pos_ = 0;
      return true;
    }
    // Current bucket exhausted: recycle it and move to the next non-empty one (wheel or far heap). A bucket
    // that held a burst (synchronised senders put thousands of events in one nanosecond) gives its memory
    // back, or every slot would end up holding the largest burst it ever saw.
    if (v.capacity() > kKeepCapacity)
      std::vector<Event>().swap(v);
    else
      v.clear();
    clear_bit(cur_ & kMask);
    sorted_ = false;
    pos_ = 0;
    if (size_ == 0) return false;
    uint64_t next = next_wheel_bucket();
    if (!far_.empty()) next = std::min(next, far_.front().time >> kShift);
    // Beyond the limit the cursor stays where it is: events for times after the limit may still come.
    if (next == kNoBucket || next > limit_bucket) return false;
    cur_ = next;
    // The horizon moved: pull far events that now fit into the wheel.
    while (!far_.empty() && (far_.front().time >> kShift) - cur_ < kBuckets) {
      std::pop_heap(far_.begin(), far_.end(), heap_later);
      to_wheel(far_.back());
      far_.pop_back();
    }
  }
}

size_t EventQueue::memory_bytes() const {
  size_t b = wheel_.capacity() * sizeof(wheel_[0]) + bits_.capacity() * 8 + far_.capacity() * sizeof(Event);
  for (const auto& c : seqs_) b += c.capacity() * sizeof(c[0]);
  b += scratch_.capacity() * sizeof(Event);
  for (const auto& v : wheel_) b += v.capacity() * sizeof(Event);
  return b;
}

Picos EventQueue::bucket_min_time(uint64_t slot) const {
  Picos t = kNeverPs;
  for (const Event& e : wheel_[slot]) t = std::min(t, e.time);
  return t;
}

Picos EventQueue::peek_time() const {
  if (size_ == 0) return kNeverPs;
  const auto& v = wheel_[cur_ & kMask];
  if (sorted_ && pos_ < v.size()) return v[pos_].time;
  // Nothing loaded: the earliest event is in the current bucket if it holds unsorted events, else in the
  // next non-empty wheel slot or the far heap. Found without sorting or moving, so nothing changes.
  Picos t = kNeverPs;
  if (!sorted_ && !v.empty()) {
    t = bucket_min_time(cur_ & kMask);
  } else {
    const uint64_t next = next_wheel_bucket();
    // Only the current slot set (served out but not yet recycled): the wheel has nothing else.
    if (next != kNoBucket && next != cur_ + kBuckets) t = bucket_min_time(next & kMask);
  }
  if (!far_.empty()) t = std::min(t, far_.front().time);
  return t;
}

Event EventQueue::pop() {
  load_current();
  --size_;
  return wheel_[cur_ & kMask][pos_++];
}

bool EventQueue::pop_until(Picos limit, Event& out) {
  if (size_ == 0 || !load_current(limit >> kShift)) return false;
  const Event& e = wheel_[cur_ & kMask][pos_];
  if (e.time > limit) return false;
  out = e;
  ++pos_;
  --size_;
  return true;
}

}  // namespace rfab::emu
