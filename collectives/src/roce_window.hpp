// The ring and credit arithmetic of the RoCE transport, free of sockets and threads so it can be
// unit-tested on its own. Streams are counted in 64-bit byte offsets that never wrap; ring positions are
// offsets mod cap (a power of two). Immediates carry the low 30 bits of an offset plus a 2-bit kind.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace rfab::coll::roce {

enum class ImmKind : uint32_t {
  Data = 0,     // a write into the peer's ring ended at this stream offset
  Credit = 1,   // the receiver consumed its ring up to this offset
  Control = 2,  // value is a Control code
  Landed = 3,   // a write into a landing (the receiver's own buffer, roce_landing.hpp) ended at this offset
};
// kLanding comes as a SEND WITH IMMEDIATE whose payload is a landing descriptor.
enum Control : uint32_t { kAbort = 1, kClose = 2, kLanding = 4 };

inline constexpr uint32_t kImmBits = 30;
inline constexpr uint32_t kImmMask = (1u << kImmBits) - 1;
// Offsets reconstructed from 30 bits must be less than 2^30 ahead of what the receiver knows: rings are
// therefore at most 2^28 bytes (a writer is never more than one ring ahead of the reader).
inline constexpr size_t kMaxRingBytes = size_t{1} << 28;
inline constexpr size_t kMinRingBytes = size_t{64} << 10;

inline constexpr uint32_t make_imm(ImmKind k, uint64_t value) {
  return (static_cast<uint32_t>(k) << kImmBits) | (static_cast<uint32_t>(value) & kImmMask);
}
inline constexpr ImmKind imm_kind(uint32_t imm) { return static_cast<ImmKind>(imm >> kImmBits); }
inline constexpr uint32_t imm_value(uint32_t imm) { return imm & kImmMask; }

// The 64-bit offset whose low 30 bits are `low`, at or after `base` (and less than 2^30 past it).
inline constexpr uint64_t extend(uint64_t base, uint32_t low) {
  return base + ((static_cast<uint64_t>(low) - base) & kImmMask);
}

// Bytes the sender may still write: the ring holds cap bytes, of which [released, tail) are taken.
// `released` may run ahead of `tail` for a moment (the receiver aligned its head for the next message
// before we aligned our tail), which counts as an empty ring.
inline size_t send_space(uint64_t tail, uint64_t released, size_t cap) {
  const auto used = static_cast<int64_t>(tail - released);
  if (used <= 0) return cap;
  return static_cast<size_t>(used) >= cap ? 0 : cap - static_cast<size_t>(used);
}

// Staging bytes are reusable once the receiver has consumed them (credit) and our write of them has
// completed (the RC engine reads staging again when it retransmits).
inline uint64_t released(uint64_t credit_head, uint64_t acked_tail) { return std::min(credit_head, acked_tail); }

// Should the receiver send a credit now? Batched (a quarter of the ring at a time) to keep control
// packets rare, but always once the reader has caught up with everything that arrived: a sender blocked on
// a full ring then always gets its space back, so the pair cannot deadlock on a withheld credit.
inline bool credit_due(uint64_t head, uint64_t reported, uint64_t arrived, size_t cap) {
  if (head <= reported) return false;
  return head - reported >= cap / 4 || head >= arrived;
}

// Length of the next write from `posted` towards `avail`: never across the ring's wrap point (one write
// is one contiguous remote range) and at most `max_write` bytes.
inline size_t next_write(uint64_t posted, uint64_t avail, size_t cap, size_t max_write) {
  if (avail <= posted) return 0;
  const size_t off = static_cast<size_t>(posted & (cap - 1));
  return std::min({static_cast<size_t>(avail - posted), cap - off, max_write});
}

inline constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace rfab::coll::roce
