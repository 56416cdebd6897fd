#include "rfab/fault/fault_injector.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <utility>

namespace rfab::fault {
namespace {

double unit(uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

// Maps a raw 64-bit draw to [0, n).
uint64_t scale(uint64_t r, uint64_t n) {
  __extension__ typedef unsigned __int128 U128;
  return static_cast<uint64_t>((static_cast<U128>(r) * n) >> 64);
}

void check_probability(double p, const char* name) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument(std::string("fault config: ") + name + " must be in [0, 1]");
}

}  // namespace

FaultInjector::FaultInjector(const FaultConfig& c) : c_(c), rng_(c.seed) {
  check_probability(c.drop, "drop");
  check_probability(c.duplicate, "dup");
  check_probability(c.reorder, "reorder");
  check_probability(c.corrupt, "corrupt");
  if (c.reorder_depth == 0) throw std::invalid_argument("fault config: depth must be >= 1");
}

void FaultInjector::push(Nanos now, std::vector<uint8_t> bytes, uint64_t meta, size_t corrupt_from) {
  ++stats_.pushed;
  // Always the same seven draws, so packet i's fate does not depend on what happened to packets < i.
  const uint64_t r_drop = rng_.next();
  const uint64_t r_dup = rng_.next();
  const uint64_t r_corrupt = rng_.next();
  const uint64_t r_bit = rng_.next();
  const uint64_t r_reorder = rng_.next();
  const uint64_t r_depth = rng_.next();
  const uint64_t r_jitter = rng_.next();

  if (unit(r_drop) < c_.drop) {
    ++stats_.dropped;
    return;
  }
  Nanos due = now + c_.delay + (c_.jitter > 0 ? scale(r_jitter, c_.jitter + 1) : 0);
  due = std::max(due, last_due_);  // jitter never lets a packet overtake the one pushed before it
  last_due_ = due;
  const uint64_t seq = seq_++;

  std::optional<Packet> copy;
  if (unit(r_dup) < c_.duplicate) {
    copy = Packet{bytes, meta};
    ++stats_.duplicated;
  }
  if (unit(r_corrupt) < c_.corrupt && bytes.size() > corrupt_from) {
    const uint64_t bit = scale(r_bit, (bytes.size() - corrupt_from) * 8);
    bytes[corrupt_from + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ++stats_.corrupted;
  }
  Entry e{Packet{std::move(bytes), meta}, due, seq};
  if (unit(r_reorder) < c_.reorder) {
    const auto overtakes = static_cast<uint32_t>(1 + scale(r_depth, c_.reorder_depth));
    held_.push_back(Held{std::move(e), overtakes, due + c_.reorder_hold});
    ++stats_.reordered;
  } else {
    line_.push_back(std::move(e));
  }
  // The copy shares the original's sequence number: it must not count as overtaking its own original.
  if (copy) line_.push_back(Entry{std::move(*copy), due, seq});
}

void FaultInjector::deliver(Entry&& first, std::vector<Packet>& out) {
  // Each packet that goes out overtakes every packet held back before it; a held packet whose count
  // runs out goes out right behind the packet that released it. Released packets leave oldest first, so
  // none is overtaken after its count ran out: no packet is overtaken by more than `depth` others.
  releasing_.push_back(std::move(first));
  while (!releasing_.empty()) {
    const auto oldest = std::min_element(releasing_.begin(), releasing_.end(),
                                         [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
    Entry e = std::move(*oldest);
    releasing_.erase(oldest);
    const uint64_t seq = e.seq;
    out.push_back(std::move(e.pkt));
    ++stats_.delivered;
    for (size_t i = 0; i < held_.size();) {
      Held& h = held_[i];
      if (h.e.seq < seq && --h.overtakes_left == 0) {
        releasing_.push_back(std::move(h.e));
        held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
}

size_t FaultInjector::pop_ready(Nanos now, std::vector<Packet>& out) {
  const size_t before = out.size();
  for (;;) {
    const bool line_due = !line_.empty() && line_.front().due <= now;
    const bool held_due = !held_.empty() && held_.front().deadline <= now;
    if (!line_due && !held_due) break;
    const bool take_held =
        held_due && (!line_due || held_.front().deadline < line_.front().due ||
                     (held_.front().deadline == line_.front().due && held_.front().e.seq < line_.front().seq));
    if (take_held) {
      Entry e = std::move(held_.front().e);
      held_.erase(held_.begin());
      deliver(std::move(e), out);
    } else {
      Entry e = std::move(line_.front());
      line_.pop_front();
      deliver(std::move(e), out);
    }
  }
  return out.size() - before;
}

Nanos FaultInjector::next_ready() const {
  Nanos t = kNever;
  if (!line_.empty()) t = line_.front().due;
  if (!held_.empty()) t = std::min(t, held_.front().deadline);
  return t;
}

}  // namespace rfab::fault
