// Landing: a large receive whose bytes the sender writes straight into the receiver's destination buffer,
// not into the receive ring, so the receiving rank never copies them (as NCCL's IB transport writes into
// the buffer the receiver posted). The receiver registers the buffer for the stream range its message
// will occupy and sends the sender a descriptor (a SEND WITH IMMEDIATE of kLandingBytes). The sender's
// datapath routes its writes by stream offset: a message whose first byte it has not written yet when the
// descriptor arrives goes to the landing, whole; one it has started (descriptor too late) goes through
// the ring as before. The writes say which (ImmKind::Landed or Data), so the receiver knows where the
// message's bytes are. Free of sockets and threads so the routing can be unit-tested.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace rfab::coll::roce {

// Where one message of the stream, [begin, end), is to be written: `va` under `rkey` at the receiver.
struct LandingDesc {
  uint64_t begin = 0, end = 0, va = 0;
  uint32_t rkey = 0;
};

inline constexpr size_t kLandingBytes = 32;  // the descriptor on the wire: begin, end, va (LE64), rkey (LE32), 0
// Larger landings than this are refused (a bad descriptor must not make the sender write past 2^40 bytes).
inline constexpr uint64_t kMaxLandingBytes = uint64_t{1} << 40;

inline void put_le(std::byte* p, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
inline uint64_t get_le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline void encode_landing(const LandingDesc& d, std::byte* out) {
  std::memset(out, 0, kLandingBytes);
  put_le(out, d.begin, 8);
  put_le(out + 8, d.end, 8);
  put_le(out + 16, d.va, 8);
  put_le(out + 24, d.rkey, 4);
}

// The descriptor in `len` received bytes, or nothing when they are not one (wrong length, empty or
// oversized range, reserved bytes set).
inline std::optional<LandingDesc> decode_landing(const std::byte* in, size_t len) {
  if (len != kLandingBytes || get_le(in + 28, 4) != 0) return std::nullopt;
  LandingDesc d{get_le(in, 8), get_le(in + 8, 8), get_le(in + 16, 8), static_cast<uint32_t>(get_le(in + 24, 4))};
  if (d.end <= d.begin || d.end - d.begin > kMaxLandingBytes || d.va + (d.end - d.begin) < d.va) return std::nullopt;
  return d;
}

// The sender's landings in stream order, and the routing of each write. A landing is taken only from its
// first byte: one whose begin the stream has passed without it is dropped (that message went to the ring).
class LandingRoutes {
 public:
  // The receiver has at most RocePeer::kLandSlots (8) landings outstanding; entries the stream has finished
  // or passed are popped only by the next route(), so as many again may linger. Twice that for margin.
  static constexpr size_t kCapacity = 32;

  // False when full (the receiver has more landings outstanding than it may) or out of stream order.
  bool push(const LandingDesc& d) {
    if (size_ == kCapacity) return false;
    if (size_ > 0 && d.begin < at(size_ - 1).d.end) return false;
    q_[(head_ + size_) % kCapacity] = Entry{d, false};
    ++size_;
    return true;
  }
  size_t size() const { return size_; }

  struct Route {
    size_t len = 0;                       // bytes of this write (<= the wanted length)
    const LandingDesc* land = nullptr;    // null: into the ring
  };
  // The next write starts at stream offset `posted` and wants `len` bytes: how many of them go together,
  // and where. A write never spans a landing's begin or end.
  Route route(uint64_t posted, size_t len) {
    while (size_ > 0) {
      Entry& e = at(0);
      if (e.started ? posted >= e.d.end : posted > e.d.begin) {
        pop();  // finished, or passed before it came
        continue;
      }
      if (!e.started && posted == e.d.begin) e.started = true;
      if (e.started) return {static_cast<size_t>(std::min<uint64_t>(len, e.d.end - posted)), &e.d};
      return {static_cast<size_t>(std::min<uint64_t>(len, e.d.begin - posted)), nullptr};
    }
    return {len, nullptr};
  }

 private:
  struct Entry {
    LandingDesc d;
    bool started = false;
  };
  Entry& at(size_t i) { return q_[(head_ + i) % kCapacity]; }
  void pop() {
    head_ = (head_ + 1) % kCapacity;
    --size_;
  }
  std::array<Entry, kCapacity> q_{};
  size_t head_ = 0, size_ = 0;
};

}  // namespace rfab::coll::roce
