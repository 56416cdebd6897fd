#include "rfab/telemetry/psn_window.hpp"

#include <algorithm>
#include <bit>

namespace rfab::telemetry {

std::vector<EntropyCount> merge_entropy(const rfab_flow_stats& s) {
  std::vector<EntropyCount> out;
  auto add = [&](uint64_t word) {
    if (word == 0) return;
    auto port = static_cast<uint16_t>((word >> RFAB_ENTROPY_PORT_SHIFT) - 1);
    uint64_t packets = word & RFAB_ENTROPY_COUNT_MASK;
    auto it = std::find_if(out.begin(), out.end(), [&](const EntropyCount& e) { return e.port == port; });
    if (it == out.end()) out.push_back({port, packets});
    else it->packets += packets;
  };
  for (uint64_t w : s.entropy) add(w);
  for (uint64_t w : s.foreign_entropy) add(w);
  std::sort(out.begin(), out.end(), [](const EntropyCount& a, const EntropyCount& b) { return a.port < b.port; });
  return out;
}

uint32_t outstanding_holes(const rfab_psn_window& w) {
  if (!(w.flags & RFAB_PSN_VALID)) return 0;
  uint32_t n = 0;
  for (uint64_t word : w.holes) n += static_cast<uint32_t>(std::popcount(word));
  return n;
}

std::vector<uint32_t> open_hole_psns(const rfab_psn_window& w) {
  std::vector<uint32_t> out;
  if (!(w.flags & RFAB_PSN_VALID)) return out;
  const uint32_t highest = (w.expected - 1) & RFAB_PSN_MASK;
  // Ring bit b holds the PSN of the window (highest - 255 .. highest) that is b modulo the ring size.
  for (uint32_t d = 1; d < RFAB_PSN_WINDOW; ++d) {
    const uint32_t psn = (highest - d) & RFAB_PSN_MASK;
    const uint32_t bit = psn % RFAB_PSN_RING;
    if (w.holes[bit / 64] >> (bit % 64) & 1) out.push_back(psn);
  }
  return out;
}

rfab_psn_step PsnWindow::step(uint32_t psn, uint64_t now_ns, bool is_read) {
  rfab_psn_step st{};
  rfab_psn_window_step(&w_, psn, is_read ? 1 : 0, now_ns, timeout_ns_, &st);
  return st;
}

const char* reorder_bucket_name(unsigned bucket) {
  static const char* const names[RFAB_REORDER_BUCKETS] = {"1",     "2-3",    "4-7",
                                                                 "8-15",  "16-31",  "32-63",
                                                                 "64-127", "128+"};
  return bucket < RFAB_REORDER_BUCKETS ? names[bucket] : "?";
}

}  // namespace rfab::telemetry
