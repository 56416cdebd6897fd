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

namespace {
uint64_t holes_of(uint64_t psn_state) {
  if (!(psn_state & RFAB_PSN_VALID)) return 0;
  return (psn_state >> RFAB_PSN_HOLES_SHIFT) & ((uint64_t{1} << RFAB_PSN_HOLE_BITS) - 1);
}
}  // namespace

uint32_t outstanding_holes(uint64_t psn_state) { return static_cast<uint32_t>(std::popcount(holes_of(psn_state))); }

std::vector<uint32_t> open_hole_psns(uint64_t psn_state) {
  std::vector<uint32_t> out;
  const uint64_t holes = holes_of(psn_state);
  const auto expected = static_cast<uint32_t>(psn_state & RFAB_PSN_STATE_PSN_MASK);
  for (unsigned i = 0; i < RFAB_PSN_HOLE_BITS; ++i)
    if (holes >> i & 1) out.push_back((expected - 2 - i) & 0xFFFFFF);
  return out;
}

const char* reorder_bucket_name(unsigned bucket) {
  static const char* const names[RFAB_REORDER_BUCKETS] = {"1", "2-3", "4-7", "8-15", "16-31", "32+"};
  return bucket < RFAB_REORDER_BUCKETS ? names[bucket] : "?";
}

}  // namespace rfab::telemetry
