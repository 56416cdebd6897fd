// What the fabric moves: a compact descriptor (the emulator never builds frame bytes; the header sizes it
// charges are those of a real RoCE v2 frame). Pooled, linked into egress queues through `next`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace rfab::emu {

enum class PacketKind : uint8_t { data = 0, ack = 1, cnp = 2 };

struct Packet {
  uint32_t flow = 0;     // the sender's flow id (for CNPs/ACKs: the flow they refer to)
  uint32_t psn = 0;
  uint32_t src = 0, dst = 0;  // host ids
  uint32_t ingress = ~0u;  // ingress port at the switch currently holding it (PFC accounting)
  uint32_t next = 0;     // queue link
  uint32_t frame = 0;    // frame bytes (headers + payload), without preamble/IFG
  uint32_t blob = ~0u;   // the host stack's handle for the packet's bytes (RcHostStack), if any
  uint16_t payload = 0;  // RoCE payload bytes
  uint16_t sport = 0;    // UDP source port: the ECMP entropy
  PacketKind kind = PacketKind::data;
  bool ce = false;       // ECN congestion experienced
  bool last = false;     // last packet of its message
};

class PacketPool {
 public:
  static constexpr uint32_t kNil = ~uint32_t{0};
  uint32_t alloc() {
    if (free_ != kNil) {
      uint32_t i = free_;
      free_ = items_[i].next;
      ++live_;
      return i;
    }
    items_.emplace_back();
    ++live_;
    return uint32_t(items_.size() - 1);
  }
  void release(uint32_t i) {
    items_[i].next = free_;
    free_ = i;
    --live_;
  }
  Packet& operator[](uint32_t i) { return items_[i]; }
  const Packet& operator[](uint32_t i) const { return items_[i]; }
  size_t live() const { return live_; }
  size_t capacity() const { return items_.size(); }

 private:
  std::vector<Packet> items_;
  uint32_t free_ = kNil;
  size_t live_ = 0;
};

}  // namespace rfab::emu
