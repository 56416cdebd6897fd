// What the sink's buffers still hold from the frames written into them before. A sink whose buffers keep
// their bytes (a pcap sink's own buffers, a DPDK port's transmit-only mbufs) hands the same buffers out
// again and again; when a buffer still holds a frame of the same template (or of one differing only in a
// few header bytes: another QP, a CE mark), the frame builder rewrites only the bytes that differ (QP,
// UDP port, PSN, MSN, ICRC) instead of the whole frame.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rfab::gen {

// A buffer's note: the template whose frame it holds and the templates' generation when that was written
// (a template is only known to be alive while the generation has not changed). Default: unknown.
struct HeldFrame {
  const void* frame = nullptr;
  uint64_t generation = 0;
};

// The notes of the buffers, by buffer address, in a fixed-size table: a buffer whose slot another buffer
// took since has its note forgotten (unknown, so its next frame is written whole), never mixed up.
class HeldFrames {
 public:
  // The note of the buffer at `buf`, to read and to update when a frame is written into it.
  HeldFrame& of(const uint8_t* buf) {
    Slot& s = slots_[slot_index(buf)];
    if (s.buf != buf) {
      s.buf = buf;
      s.held = {};
    }
    return s.held;
  }

 private:
  // Several times the buffers a sink keeps in rotation (a burst or a few, a mempool cache).
  static constexpr unsigned kSlotBits = 11;
  struct Slot {
    const uint8_t* buf = nullptr;
    HeldFrame held;
  };
  // Buffers are cache-line aligned and usually a fixed stride apart: a multiplicative hash spreads them.
  static size_t slot_index(const uint8_t* buf) {
    return static_cast<size_t>(((reinterpret_cast<uintptr_t>(buf) >> 6) * 0x9E3779B97F4A7C15ull) >> (64 - kSlotBits));
  }
  std::vector<Slot> slots_ = std::vector<Slot>(size_t{1} << kSlotBits);
};

}  // namespace rfab::gen
