// A binary min-heap of ids keyed by a time, where an id's key can change in place: the flow engine moves a
// flow's finish time at every refill of its part of the fabric, and a heap of stale entries grows with
// refills rather than with flows.
#pragma once
#include <cstdint>
#include <vector>

namespace rfab::emu {

class IndexedHeap {
 public:
  explicit IndexedHeap(size_t ids = 0) : key_(ids, 0), pos_(ids, kAbsent) {}
  void resize(size_t ids) {
    key_.resize(ids, 0);
    pos_.resize(ids, kAbsent);
  }
  bool empty() const { return heap_.empty(); }
  uint32_t top() const { return heap_.front(); }
  double top_key() const { return key_[heap_.front()]; }
  bool contains(uint32_t id) const { return pos_[id] != kAbsent; }
  size_t memory_bytes() const { return key_.capacity() * 8 + pos_.capacity() * 4 + heap_.capacity() * 4; }

  // Inserts `id` or moves it to `key`.
  void set(uint32_t id, double key) {
    if (pos_[id] == kAbsent) {
      pos_[id] = uint32_t(heap_.size());
      heap_.push_back(id);
      key_[id] = key;
      up(pos_[id]);
      return;
    }
    const double old = key_[id];
    key_[id] = key;
    if (key < old) up(pos_[id]);
    else down(pos_[id]);
  }
  void erase(uint32_t id) {
    const uint32_t i = pos_[id];
    if (i == kAbsent) return;
    const uint32_t last = heap_.back();
    heap_.pop_back();
    pos_[id] = kAbsent;
    if (i == heap_.size()) return;
    heap_[i] = last;
    pos_[last] = i;
    up(i);
    down(pos_[last]);
  }

 private:
  static constexpr uint32_t kAbsent = ~uint32_t{0};
  bool less(uint32_t a, uint32_t b) const { return key_[a] != key_[b] ? key_[a] < key_[b] : a < b; }
  void place(uint32_t i, uint32_t id) {
    heap_[i] = id;
    pos_[id] = i;
  }
  void up(uint32_t i) {
    const uint32_t id = heap_[i];
    while (i > 0) {
      const uint32_t parent = (i - 1) / 2;
      if (!less(id, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, id);
  }
  void down(uint32_t i) {
    const uint32_t id = heap_[i], n = uint32_t(heap_.size());
    for (;;) {
      uint32_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && less(heap_[c + 1], heap_[c])) ++c;
      if (!less(heap_[c], id)) break;
      place(i, heap_[c]);
      i = c;
    }
    place(i, id);
  }

  std::vector<double> key_;
  std::vector<uint32_t> pos_, heap_;
};

}  // namespace rfab::emu
