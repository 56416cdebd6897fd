// A deterministic, seeded fault-injection stage between a packet producer and the wire. Sans-IO: the
// driver pushes packets with the current time and later pops those that are due; it never sleeps.
//
//   FaultInjector f(parse_fault("drop=0.01,reorder=0.05,delay=10us,seed=7"));
//   f.push(now, std::move(bytes), meta);          // producer side
//   f.pop_ready(now, out);                        // wire side: appends due packets to `out`
//   wake up at f.next_ready()
//
// Per pushed packet, in this order: drop? (gone) -> duplicate? (an unmodified copy follows the original)
// -> corrupt? (flip one random bit of the original, at or after byte `corrupt_from`) -> reorder? (hold
// the original back). Every packet is due at now + delay + U[0, jitter], but never before the packet
// pushed ahead of it: jitter alone keeps the order, only `reorder` breaks it. A held packet is released
// right after 1..depth later-pushed packets have gone out (so no packet is ever overtaken by more
// than `depth` packets), or `hold` after it was due, whichever comes first: nothing is held forever.
//
// Determinism: each push draws the same number of random values whatever happens to the packet, so the
// fault pattern of packet i depends only on the seed and i (and for corruption, the packet's length).
// The same seed and the same push sequence give the same output, byte for byte.
//
// Corruption and the ICRC: CRC-32 catches every single-bit error in the bytes it covers, so a receiver
// that verifies the ICRC drops every corrupted packet, provided the flipped bit is in a covered byte.
// RoCE v2 masks some bytes out of the ICRC (see rfab/wire/icrc.hpp): for a UDP payload (BTH first) pass
// corrupt_from = kAfterBthMaskedByte, which skips the masked BTH byte 4.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "rfab/base/rng.hpp"
#include "rfab/fault/fault_config.hpp"

namespace rfab::fault {

// First byte of a BTH-first buffer whose every later byte is covered by the ICRC.
inline constexpr size_t kAfterBthMaskedByte = 5;

struct Packet {
  std::vector<uint8_t> bytes;
  uint64_t meta = 0;  // opaque to the injector: destination index, QPN, sequence number, ...
};

class FaultInjector {
 public:
  struct Stats {
    uint64_t pushed = 0;
    uint64_t dropped = 0;
    uint64_t duplicated = 0;  // extra copies created
    uint64_t corrupted = 0;
    uint64_t reordered = 0;   // packets held back
    uint64_t delivered = 0;   // packets handed out by pop_ready (copies included)
  };

  // Throws std::invalid_argument for probabilities outside [0, 1] or reorder_depth == 0.
  explicit FaultInjector(const FaultConfig& c);

  void push(Nanos now, std::vector<uint8_t> bytes, uint64_t meta = 0, size_t corrupt_from = 0);

  // Appends every packet due at or before `now` to `out`, in delivery order. Returns how many.
  size_t pop_ready(Nanos now, std::vector<Packet>& out);

  // When the next packet falls due (kNever if none is queued).
  Nanos next_ready() const;

  size_t queued() const { return line_.size() + held_.size(); }
  const Stats& stats() const { return stats_; }
  const FaultConfig& config() const { return c_; }

 private:
  struct Entry {
    Packet pkt;
    Nanos due;
    uint64_t seq;  // push order
  };
  struct Held {
    Entry e;
    uint32_t overtakes_left;
    Nanos deadline;
  };

  void deliver(Entry&& e, std::vector<Packet>& out);

  FaultConfig c_;
  SplitMix64 rng_;
  std::deque<Entry> line_;   // due times non-decreasing
  std::vector<Held> held_;   // in push order; deadlines non-decreasing
  std::vector<Entry> releasing_;  // scratch of deliver(), kept to reuse its memory
  Nanos last_due_ = 0;
  uint64_t seq_ = 0;
  Stats stats_{};
};

}  // namespace rfab::fault
