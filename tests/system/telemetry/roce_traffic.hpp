// Known RoCE v2 traffic for the collector tests: frames built with rfab's encoder, and what a correct
// collector must count for them (written out by hand in roce_traffic.cpp, not computed by a tracker).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rfab/telemetry/bpf_types.h"

namespace rfab::test {

struct ExpectedFlow {
  std::string src, dst;  // as format_addr prints them
  uint32_t qp = 0;
  uint64_t packets = 0, bytes = 0;
  std::array<uint64_t, RFAB_OPC_COUNT> op{};
  uint64_t ce = 0, cnps = 0;
  std::array<uint64_t, RFAB_NAK_COUNT> naks{};
  // Request-PSN window (RFAB_PSN_WINDOW PSNs): forward jumps and the PSNs they skipped,
  // PSNs that fell out of the window unseen, late packets that filled a hole (with their distances),
  // PSNs seen twice, PSNs below the window, and holes still open at the end.
  uint64_t gaps = 0, holes = 0, lost = 0, reordered = 0, distance_sum = 0, distance_max = 0;
  std::array<uint64_t, RFAB_REORDER_BUCKETS> distance_hist{};
  uint64_t duplicates = 0, too_old = 0, backwards = 0, outstanding = 0;
  std::map<uint16_t, uint64_t> entropy;  // packets per UDP source port (those with a slot)
  uint64_t entropy_other = 0;            // packets of ports beyond the flow's entropy table
  // A late packet at `distance` PSNs below the highest seen filled its hole.
  void reorder(uint64_t distance);
};

struct Plan {
  std::vector<std::vector<uint8_t>> frames;  // in injection order
  std::vector<ExpectedFlow> flows;
  uint64_t roce_packets = 0, roce_bytes = 0, not_roce = 0, malformed = 0;
  uint64_t ce = 0, cnps = 0, naks = 0;
  unsigned nak_events = 0, lost_events = 0, cnp_burst_events = 0;  // with a CNP burst threshold of 8
  // The flows' PSN counters summed, as the totals must show them.
  uint64_t sum(uint64_t ExpectedFlow::*field) const;
  const ExpectedFlow* find(const std::string& src, const std::string& dst, uint32_t qp) const;
};

// `per_qp` packets on each of the plain in-order QPs (at least 8).
Plan make_plan(unsigned per_qp);

// Jumbo frames (a 4096-byte path MTU) on QP 0x900: in-order WRITEs, one CE-marked, then two PSNs skipped
// and one of them resent (reordered); the other stays outstanding. Needs an MTU of at least 4200 on the veth.
Plan make_jumbo_plan();

// Sprayed traffic: WRITEs on `qps` QPs, each PSN on one of 8 UDP source ports (rfab's spray ports), the
// 8 PSNs of each block arriving last-first as if each port's path were slower than the next. After the
// first PSN, `blocks` blocks per QP; the PSNs listed in `drop` (offsets from the QP's first PSN, 1..)
// are never sent. No loss without drops: every hole is filled (reordered, distances 1..7).
Plan make_spray_plan(unsigned qps, unsigned blocks, const std::vector<uint32_t>& drop = {});

// One sprayed flow reordered deeper than a few PSNs, through a 24-bit PSN wrap: holes filled 199, 200 and 255
// PSNs late (reordered), one filled 256 late (lost, then below the window), one never filled (lost), one
// open at the end, and a duplicate.
Plan make_deep_reorder_plan();

// One flow with more UDP source ports than its entropy table holds, all wanting the same home slot:
// the first RFAB_ENTROPY_SLOTS take the table's slots, the rest are counted as "other".
Plan make_entropy_overflow_plan();

// Only in-order SENDs on `qps` QPs, `per_qp` each, `payload` bytes per packet (for validate / bench).
Plan make_clean_plan(unsigned qps, unsigned per_qp, size_t payload);

// In-order SENDs, one packet per QP per round (QP 0, 1, .., qps-1, then again): with more QPs than the
// collector's per-CPU flow cache has slots, every packet evicts another flow's cache entry.
Plan make_round_robin_plan(unsigned qps, unsigned rounds, size_t payload);

}  // namespace rfab::test
