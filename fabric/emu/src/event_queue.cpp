#include "rfab/emu/event_queue.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

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

void EventQueue::push_tagged(const Event& tagged) {
  Event e = tagged;
  uint64_t b = e.time >> kShift;
  assert(b >= cur_);
  if (b < cur_) b = cur_;  // never schedule into the past (guards rounding in callers)
  ++size_;
  if (b - cur_ < kBuckets) {
    if (e.time < (cur_ << kShift)) e.time = cur_ << kShift;
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

bool EventQueue::load_current() {
  for (;;) {
    auto& v = wheel_[cur_ & kMask];
    if (sorted_ && pos_ < v.size()) return true;
    if (!sorted_ && !v.empty()) {
      std::sort(v.begin(), v.end(), kBefore);
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
    if (next == kNoBucket) return false;
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
  for (const auto& c : seqs_) b += c.capacity() * 4;
  for (const auto& v : wheel_) b += v.capacity() * sizeof(Event);
  return b;
}

Picos EventQueue::peek_time() {
  if (size_ == 0 || !load_current()) return kNeverPs;
  return wheel_[cur_ & kMask][pos_].time;
}

Event EventQueue::pop() {
  load_current();
  --size_;
  return wheel_[cur_ & kMask][pos_++];
}

}  // namespace rfab::emu
